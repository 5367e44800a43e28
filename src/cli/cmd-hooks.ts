// Commands of the hooks feature (registered through extra.ts): `hoard hooks [--volume V] [--limit N]`
// lists volume hook runs, newest first (secret values of the current config redacted, old rows too).

import type { Command } from "./dispatch.ts";
import { withApp } from "./app.ts";
import { command } from "./define.ts";
import { table, when } from "./output.ts";
import { usageError } from "../kernel/errors.ts";
import { listHookRuns } from "../kernel/hookruns.ts";
import { formatDuration } from "../config/duration.ts";
import { redact } from "../ops/hooks.ts";

const hooksCmd = command({
  name: "hooks",
  description: "list volume hook runs (newest first): status, exit code or signal, stderr tail",
  args: {
    volume: { type: "string", description: "only hooks of this volume", complete: "volume" },
    limit: { type: "string", description: "how many (default 20)" },
  },
  async run(args) {
    const limit = args.limit === undefined ? 20 : Number(args.limit);
    if (!Number.isInteger(limit) || limit <= 0) throw usageError("bad_limit", "--limit must be a positive integer");
    return withApp(args, async (app) => {
      if (args.volume !== undefined && !app.config.volumes[args.volume]) throw usageError("unknown_volume", `unknown volume ${args.volume}`);
      const secrets = app.config.secrets?.values ?? [];
      const rows = listHookRuns(app.ctx.db, { volume: args.volume, limit }).map((r) => ({
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
      const last = (s: string | null) => (s ?? "").trim().split("\n").pop()!.slice(0, 60);
      const human = rows.length
        ? table(
            ["id", "volume", "run", "trigger", "status", "started", "took", "exit", "note / stderr"],
            rows.map((r) => [r.id, r.volume, r.trigger_run, r.trigger, r.status, when(r.started_at), r.finished_at === null ? "-" : formatDuration(r.finished_at - r.started_at), r.signal ?? r.exit_code, last(r.note) || last(r.stderr_tail)]),
          )
        : "no hook runs";
      return { data: { hooks: rows }, human };
    });
  },
});

export function hooksCommands(): Record<string, Command> {
  return { hooks: hooksCmd };
}
