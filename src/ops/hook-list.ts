// `hoard hooks` as data: the volume hook runs, newest first, with the secret values of the current
// config redacted from their stderr tails and notes (old rows too).

import { usageError } from "../kernel/errors.ts";
import { listHookRuns } from "../kernel/hookruns.ts";
import { redact } from "./hooks.ts";
import type { OpContext } from "./context.ts";

/** Hook runs of one volume (or all), at most `limit`, redacted. */
export function hookRunList(ctx: OpContext, f: { volume?: string; limit: number }) {
  if (f.volume !== undefined && !ctx.config.volumes[f.volume]) throw usageError("unknown_volume", `unknown volume ${f.volume}`);
  const secrets = ctx.config.secrets?.values ?? [];
  return listHookRuns(ctx.db, { volume: f.volume, limit: f.limit }).map((r) => ({
    id: r.id,
    volume: r.volume,
    trigger_run: r.trigger_run,
    trigger: r.trigger,
    command: JSON.parse(r.command) as string[],
    status: r.status,
    node: r.node,
    pid: r.pid,
    started_at: r.started_at,
    finished_at: r.finished_at,
    exit_code: r.exit_code,
    signal: r.signal,
    stderr_tail: redact(r.stderr_tail, secrets),
    note: redact(r.note, secrets),
  }));
}
