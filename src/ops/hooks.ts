// Volume hooks: after a finished index run, exec the volume's `[volumes.X.hook]` command through the
// kernel's spawn (no shell, no secrets in its environment, its process group stopped on timeout),
// keep stderr's tail with secret values redacted, record in hook_runs.

import type { HookConfig } from "../config/schema.ts";
import type { ConfigSecrets } from "../config/secrets.ts";
import { AlreadyFinished } from "../kernel/errors.ts";
import { beginHookRun, finishHookRun, getHookRun, setHookPid, type HookStatus } from "../kernel/hookruns.ts";
import { spawnTool } from "../kernel/spawn.ts";
import type { SpawnResult } from "../kernel/plugin.ts";
import { formatDuration } from "../kernel/duration.ts";
import type { OpContext } from "./context.ts";

/** How long a timed-out hook's process group gets between SIGTERM and SIGKILL. */
export const KILL_GRACE_MS = 2000;
/** How much of the hook's stderr is kept (the last bytes). */
export const STDERR_TAIL_BYTES = 4096;

export interface HookTrigger {
  volume: string;
  path: string;
  runId: bigint;
  changed: boolean;
  trigger: string;
  /** Terminal status of the index run that fired the hook. */
  status: string;
}

export interface HookOutcome {
  id: bigint;
  status: Exclude<HookStatus, "running">;
  exit_code: number | null;
  signal: string | null;
  note: string | null;
}

interface Exec {
  status: "success" | "failed" | "timeout";
  exit_code: number | null;
  signal: string | null;
  stderr_tail: string | null;
  note: string | null;
}

/** The last `max` bytes of text (as UTF-8), or null when there is none. */
function tail(text: string, max: number): string | null {
  const all = Buffer.from(text, "utf8");
  return all.length === 0 ? null : all.subarray(Math.max(0, all.length - max)).toString("utf8");
}

/** Run argv through the kernel's spawn: no shell, its own process group, the group stopped on timeout. Never rejects. */
export async function execHook(argv: readonly string[], env: Record<string, string>, timeoutNs: bigint, onPid: (pid: number) => void): Promise<Exec> {
  let pid = 0;
  const onStart = (p: number) => {
    pid = p;
    try {
      onPid(p);
    } catch {
      /* recording the pid is best effort; the run is recorded at the end */
    }
  };
  let r: SpawnResult;
  try {
    // stdout is thrown away (a hook's output is not hoard's); a grandchild holding stderr open is not waited for
    r = await spawnTool(argv[0]!, argv.slice(1), { env, inheritEnv: false, discardStdout: true, onStart, timeoutMs: Number(timeoutNs / 1_000_000n), killGraceMs: KILL_GRACE_MS, settleMs: 200 });
  } catch (e: any) {
    const msg = String(e?.message ?? e);
    return { status: "failed", exit_code: null, signal: null, stderr_tail: null, note: `cannot start ${argv[0]}: ${e?.code && !msg.includes(e.code) ? `${e.code}: ` : ""}${msg}` };
  }
  const stderr_tail = tail(r.stderr, STDERR_TAIL_BYTES);
  if (r.timedOut) return { status: "timeout", exit_code: r.code, signal: r.signal, stderr_tail, note: `timed out after ${formatDuration(timeoutNs)}; process group ${pid} killed` };
  if (r.code === 0) return { status: "success", exit_code: 0, signal: null, stderr_tail, note: null };
  return { status: "failed", exit_code: r.code, signal: r.signal, stderr_tail, note: r.signal ? `killed by ${r.signal}` : `exited with code ${r.code}` };
}

export const REDACTED = "<redacted>";

/**
 * Replace every secret value in text by <redacted> (longest first), including a secret cut at the
 * start of a kept tail (a suffix of it of at least 4 characters opening the text).
 */
export function redact(text: string, values: readonly string[]): string;
export function redact(text: string | null, values: readonly string[]): string | null;
export function redact(text: string | null, values: readonly string[]): string | null {
  if (text === null || values.length === 0) return text;
  const sorted = [...new Set(values)].filter((x) => x !== "").sort((a, b) => b.length - a.length);
  let out = text;
  for (const s of sorted) out = out.split(s).join(REDACTED);
  for (const s of sorted)
    for (let k = s.length - 1; k >= 4; k--)
      if (out.startsWith(s.slice(s.length - k))) {
        out = REDACTED + out.slice(k);
        break;
      }
  return out;
}

/**
 * The environment a hook sees: hoard's own minus every variable the config names as a secret (and
 * any other variable holding a secret value), plus what fired it.
 */
export function hookEnv(t: HookTrigger, hookId: bigint, secrets?: ConfigSecrets): Record<string, string> {
  const env: Record<string, string> = {};
  const names = new Set(secrets?.envVars ?? []);
  const values = new Set(secrets?.values ?? []);
  for (const [k, val] of Object.entries(process.env)) if (val !== undefined && !names.has(k) && !values.has(val)) env[k] = val;
  Object.assign(env, {
    HOARD_VOLUME: t.volume,
    HOARD_PATH: t.path,
    HOARD_RUN_ID: String(t.runId),
    HOARD_CHANGED: t.changed ? "true" : "false",
    HOARD_TRIGGER: t.trigger,
    HOARD_STATUS: t.status,
    HOARD_HOOK_ID: String(hookId),
  });
  return env;
}

/**
 * Fire the volume's hook, if it has one, after a finished index run. Never throws: a hook's
 * failure (or hoard's failure to record it) is reported and recorded, never the index run's.
 */
export async function runVolumeHook(ctx: OpContext, t: HookTrigger, hook: HookConfig | undefined = ctx.config.volumes[t.volume]?.hook): Promise<HookOutcome | null> {
  if (!hook) return null;
  try {
    const b = beginHookRun(ctx.db, { volume: t.volume, triggerRun: t.runId, trigger: t.trigger, command: hook.command, node: ctx.node });
    if (b.skipped) {
      const note = `hook ${b.blocker.id} of volume ${t.volume} is still running`;
      ctx.log.warn(`hook for ${t.volume} skipped: ${note} (recorded as hook ${b.id})`);
      return { id: b.id, status: "skipped", exit_code: null, signal: null, note };
    }
    const secrets = ctx.config.secrets;
    const x0 = await execHook(hook.command, hookEnv(t, b.id, secrets), hook.timeout_ns, (pid) => setHookPid(ctx.db, b.id, pid));
    // a hook may print a secret it found elsewhere: the stored text never carries one
    const x = { ...x0, stderr_tail: redact(x0.stderr_tail, secrets?.values ?? []), note: redact(x0.note, secrets?.values ?? []) };
    try {
      finishHookRun(ctx.db, b.id, x.status, { exit_code: x.exit_code, signal: x.signal, stderr_tail: x.stderr_tail, note: x.note });
    } catch (e) {
      if (!(e instanceof AlreadyFinished)) throw e;
      const row = getHookRun(ctx.db, b.id)!;
      ctx.log.warn(`hook ${b.id} for ${t.volume} was already recorded as ${row.status} by someone else; keeping that record (this process saw ${x.status})`);
      return { id: b.id, status: row.status as HookOutcome["status"], exit_code: row.exit_code === null ? null : Number(row.exit_code), signal: row.signal, note: row.note };
    }
    const msg = `hook for ${t.volume} (hook ${b.id}): ${x.status}${x.note ? `: ${x.note}` : ""}`;
    if (x.status === "success") ctx.log.info(msg);
    else ctx.log.warn(`${msg}; the index run is unaffected (see \`hoard hooks --volume ${t.volume}\`)`);
    return { id: b.id, status: x.status, exit_code: x.exit_code, signal: x.signal, note: x.note };
  } catch (e) {
    ctx.log.warn(`hook for ${t.volume} could not be run or recorded: ${(e as Error)?.message ?? e}; the index run is unaffected`);
    return null;
  }
}
