// The hook_runs table: begin a volume hook run (or record it skipped while another one of the volume
// runs) in one BEGIN IMMEDIATE transaction, reap provably dead ones, finish first-write-wins, list.

import type { Db } from "./db.ts";
import { nowNs, pidExists, processStartTime, type SqlValue } from "./runtime.ts";
import { finishRow } from "./terminal.ts";
import { processAlive } from "./children.ts";

export type HookStatus = "running" | "success" | "failed" | "timeout" | "skipped" | "aborted";

export interface HookRunRow {
  id: bigint;
  volume: string;
  trigger_run: bigint | null;
  trigger: string;
  command: string; // JSON argv
  status: HookStatus;
  node: string;
  pid: bigint | null;
  started_at: bigint;
  finished_at: bigint | null;
  exit_code: bigint | null;
  signal: string | null;
  stderr_tail: string | null;
  note: string | null;
  runner_pid: bigint | null;
  runner_start: string | null;
  pid_start: string | null;
}

/**
 * Does any live process of this process group still exist? On Linux zombies (dead, not yet
 * reaped by their parent) do not count; elsewhere any answer to kill(-pgid, 0) does.
 */
export function groupAlive(pgid: number): boolean {
  return pgid > 1 && processAlive(-pgid);
}

const procAlive = (pid: bigint | null, start: string | null): boolean => {
  if (pid === null) return false;
  const p = Number(pid);
  if (!pidExists(p)) return false;
  const now = processStartTime(p);
  return start === null || now === undefined || now === start;
};

/**
 * Is a running hook row provably dead? Only decidable on its own node: dead when neither the hoard
 * process that runs it nor any process of the hook's process group exists any more.
 */
export function hookRowDead(r: HookRunRow, node: string): boolean {
  if (r.node !== node) return false;
  if (procAlive(r.runner_pid, r.runner_start)) return false;
  if (r.pid !== null && groupAlive(Number(r.pid))) return false;
  return true;
}

export interface BeginHook {
  volume: string;
  triggerRun: bigint | null;
  trigger: string;
  command: readonly string[];
  node: string;
}

export type BeginHookResult = { id: bigint; skipped: false } | { id: bigint; skipped: true; blocker: HookRunRow };

/**
 * Insert a running hook row for the volume, unless a live hook of that volume is running: then the
 * new row is recorded `skipped` naming the running one. Dead running rows are reaped as aborted.
 */
export function beginHookRun(db: Db, o: BeginHook): BeginHookResult {
  const runnerStart = processStartTime(process.pid) ?? null;
  return db.tx((): BeginHookResult => {
    const running = db.all<HookRunRow>("SELECT * FROM hook_runs WHERE volume = ? AND status = 'running' ORDER BY id", o.volume);
    let blocker: HookRunRow | undefined;
    for (const r of running) {
      if (hookRowDead(r, o.node)) finishRow(db, "hook_runs", r.id, "aborted", { note: `reaped by a later hook: runner ${r.runner_pid ?? "?"} and hook process ${r.pid ?? "(never started)"} are gone` });
      else blocker ??= r;
    }
    const ins = db.run(
      "INSERT INTO hook_runs(volume, trigger_run, trigger, command, node, started_at, runner_pid, runner_start) VALUES (?,?,?,?,?,?,?,?)",
      o.volume, o.triggerRun, o.trigger, JSON.stringify(o.command), o.node, nowNs(), process.pid, runnerStart,
    );
    const id = ins.lastInsertRowid;
    if (!blocker) return { id, skipped: false };
    finishRow(db, "hook_runs", id, "skipped", { note: `hook ${blocker.id} of volume ${o.volume} is still running (pid ${blocker.pid ?? "?"} on ${blocker.node})` });
    return { id, skipped: true, blocker };
  });
}

/** Record the hook's process (its pid is also its process group id). */
export function setHookPid(db: Db, id: bigint, pid: number): void {
  db.run("UPDATE hook_runs SET pid = ?, pid_start = ? WHERE id = ? AND status = 'running'", pid, processStartTime(pid) ?? null, id);
}

export interface HookFinish {
  exit_code?: number | null;
  signal?: string | null;
  stderr_tail?: string | null;
  note?: string | null;
}

/** Finish a hook run once (first write wins; a second finish is AlreadyFinished and changes nothing). */
export function finishHookRun(db: Db, id: bigint, status: Exclude<HookStatus, "running">, f: HookFinish = {}): void {
  const fields: Record<string, SqlValue> = {};
  for (const [k, val] of Object.entries(f)) if (val !== undefined) fields[k] = val;
  finishRow(db, "hook_runs", id, status, fields);
}

export function getHookRun(db: Db, id: bigint): HookRunRow | undefined {
  return db.get<HookRunRow>("SELECT * FROM hook_runs WHERE id = ?", id);
}

export function listHookRuns(db: Db, f: { volume?: string; limit?: number } = {}): HookRunRow[] {
  return f.volume
    ? db.all<HookRunRow>("SELECT * FROM hook_runs WHERE volume = ? ORDER BY id DESC LIMIT ?", f.volume, f.limit ?? 20)
    : db.all<HookRunRow>("SELECT * FROM hook_runs ORDER BY id DESC LIMIT ?", f.limit ?? 20);
}
