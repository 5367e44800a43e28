// The run gate and the runs table: beginRun checks conflicts and inserts in one BEGIN IMMEDIATE
// transaction, reaps provably dead conflicting runs, and finishes runs first-write-wins.

import type { Db } from "./db.ts";
import { conflicts, scopeOf, type RunKind, type RunScope } from "./conflict.ts";
import { refused, failure, usageError } from "./errors.ts";
import { nowNs, nsToIso, pidExists, processStartTime } from "./runtime.ts";
import { finishRow } from "./terminal.ts";

export type RunStatus = "running" | "success" | "partial" | "failed" | "refused" | "aborted";

export interface RunRow {
  id: bigint;
  kind: RunKind;
  volume: string | null;
  destination: string | null;
  touches: string;
  status: RunStatus;
  node: string;
  pid: bigint;
  pid_start: string | null;
  started_at: bigint;
  finished_at: bigint | null;
  counts: string | null;
  error: string | null;
  note: string | null;
  argv: string | null;
}

export interface Run {
  id: bigint;
  kind: RunKind;
  volume: string | null;
  destination: string | null;
  node: string;
  startedAt: bigint;
}

const rowScope = (r: RunRow): RunScope => ({ kind: r.kind, volume: r.volume, destination: r.destination, touches: JSON.parse(r.touches) });

/** Is the process behind a running row provably gone? Only decidable on its own node. */
export function isDead(r: RunRow, node: string): boolean {
  if (r.node !== node) return false;
  const pid = Number(r.pid);
  if (!pidExists(pid)) return true;
  const start = processStartTime(pid);
  return r.pid_start !== null && start !== undefined && start !== r.pid_start;
}

export interface BeginOptions {
  kind: RunKind;
  volume: string | null;
  destination?: string | null;
  touches?: readonly string[];
  node: string;
  argv?: string[];
}

/** Start a run, or refuse (exit 3) naming the conflicting run. */
export function beginRun(db: Db, o: BeginOptions): Run {
  const scope = scopeOf(o.kind, o.volume, o.destination ?? null, o.touches);
  const pid = process.pid;
  const pidStart = processStartTime(pid) ?? null;
  const now = nowNs();
  const outcome = db.tx((): { blocker: RunRow } | { id: bigint } => {
    const running = db.all<RunRow>("SELECT * FROM runs WHERE status = 'running' ORDER BY id");
    const live: RunRow[] = [];
    for (const r of running) {
      if (!conflicts(scope, rowScope(r))) continue;
      if (isDead(r, o.node)) {
        finishRow(db, "runs", r.id, "aborted", { note: `reaped by a later ${o.kind} run: process ${r.pid} is gone` });
      } else live.push(r);
    }
    if (live.length > 0) return { blocker: live[0]! };
    const ins = db.run(
      "INSERT INTO runs(kind, volume, destination, touches, node, pid, pid_start, started_at, argv) VALUES (?,?,?,?,?,?,?,?,?)",
      o.kind, o.volume, o.destination ?? null, JSON.stringify(scope.touches), o.node, pid, pidStart, now, o.argv ? JSON.stringify(o.argv) : null,
    );
    return { id: ins.lastInsertRowid };
  });
  if ("blocker" in outcome) {
    const b: RunRow = outcome.blocker;
    throw refused(
      "run_conflict",
      `refused: ${o.kind}${o.volume ? ` of volume ${o.volume}` : ""}${o.destination ? ` to ${o.destination}` : ""} conflicts with running run ${b.id} (${b.kind}${b.volume ? ` of ${b.volume}` : ""}${b.destination ? `, destination ${b.destination}` : ""}, started ${nsToIso(b.started_at)}, pid ${b.pid} on ${b.node})`,
      `wait for run ${b.id} to finish, or if its process is gone run \`hoard runs abort ${b.id}\``,
      { blocker: { id: b.id, kind: b.kind, volume: b.volume, destination: b.destination, started_at: b.started_at, pid: b.pid, node: b.node } },
    );
  }
  return { id: outcome.id, kind: o.kind, volume: o.volume, destination: o.destination ?? null, node: o.node, startedAt: now };
}

export function finishRun(db: Db, runId: bigint, status: Exclude<RunStatus, "running">, info: { counts?: unknown; error?: string; note?: string } = {}): void {
  const fields: Record<string, string> = {};
  if (info.counts !== undefined) fields.counts = JSON.stringify(info.counts, (_, x) => (typeof x === "bigint" ? Number(x) : x));
  if (info.error !== undefined) fields.error = info.error;
  if (info.note !== undefined) fields.note = info.note;
  finishRow(db, "runs", runId, status, fields);
}

/** Record a refusal (or a failure before the run could begin) as its own terminal run row (so the audit trail shows every attempt). */
export function recordRefusal(db: Db, o: BeginOptions, error: string, status: "refused" | "failed" = "refused"): bigint {
  const scope = scopeOf(o.kind, o.volume, o.destination ?? null, o.touches);
  const now = nowNs();
  const ins = db.run(
    "INSERT INTO runs(kind, volume, destination, touches, status, node, pid, pid_start, started_at, finished_at, error, argv) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
    o.kind, o.volume, o.destination ?? null, JSON.stringify(scope.touches), status, o.node, process.pid, processStartTime(process.pid) ?? null, now, now, error, o.argv ? JSON.stringify(o.argv) : null,
  );
  return ins.lastInsertRowid;
}

export function getRun(db: Db, id: bigint): RunRow | undefined {
  return db.get<RunRow>("SELECT * FROM runs WHERE id = ?", id);
}

export function listRuns(db: Db, f: { volume?: string; kind?: string; limit?: number } = {}): RunRow[] {
  const where: string[] = [];
  const params: (string | number)[] = [];
  if (f.volume) (where.push("volume = ?"), params.push(f.volume));
  if (f.kind) (where.push("kind = ?"), params.push(f.kind));
  const sql = `SELECT * FROM runs ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY id DESC LIMIT ?`;
  return db.all<RunRow>(sql, ...params, f.limit ?? 20);
}

/** The newest finished run of `kind` for (volume, destination), if any. */
export function lastFinishedRun(db: Db, volume: string, destination: string, kind: string): { id: bigint; status: string; error: string | null } | undefined {
  return db.get<{ id: bigint; status: string; error: string | null }>(
    "SELECT id, status, error FROM runs WHERE volume = ? AND destination = ? AND kind = ? AND status <> 'running' ORDER BY id DESC LIMIT 1",
    volume, destination, kind,
  );
}

export interface AbortOptions {
  note: string;
  /** This node's name: only its own processes can be seen. */
  node: string;
  /** Abort a run of another node, whose process this node cannot see. */
  force?: boolean;
}

/**
 * Abort a running row by hand (its process is gone). A run whose process is alive on this node is
 * refused; a run of another node needs `force` (this node cannot see its process), and only then.
 */
export function abortRun(db: Db, id: bigint, o: AbortOptions): { forced: boolean; node: string } {
  return db.tx(() => {
    const r = getRun(db, id);
    if (!r) throw failure("no_such_run", `run ${id} does not exist`, "list runs with `hoard runs`");
    if (r.status !== "running") throw refused("not_running", `run ${id} is not running (status ${r.status}); nothing changed`);
    const what = `run ${id} (${r.kind}${r.volume ? ` of ${r.volume}` : ""}${r.destination ? `, destination ${r.destination}` : ""}, pid ${r.pid} on ${r.node})`;
    if (r.node === o.node) {
      if (!isDead(r, o.node))
        throw refused(
          "run_alive",
          `refused: ${what} is still running: its process is alive on this node${o.force ? " (--force applies only to runs of another node)" : ""}; nothing changed`,
          `wait for it to finish, or stop process ${r.pid} and then abort it`,
          { run: { id: r.id, pid: r.pid, node: r.node } },
        );
      if (o.force)
        throw usageError("force_other_node_only", `--force applies only to runs of another node; ${what} is on this node and its process is gone`, `run \`hoard runs abort ${id}\` without --force`);
      finishRow(db, "runs", id, "aborted", { note: o.note });
      return { forced: false, node: r.node };
    }
    if (!o.force)
      throw refused(
        "run_other_node",
        `refused: ${what} belongs to node ${r.node}; this node (${o.node}) cannot see whether its process is alive; nothing changed`,
        `make sure it is not running on ${r.node}, then \`hoard runs abort ${id} --force\``,
        { run: { id: r.id, pid: r.pid, node: r.node } },
      );
    finishRow(db, "runs", id, "aborted", { note: `${o.note} (forced from node ${o.node}: a run of node ${r.node}, whose process could not be checked)` });
    return { forced: true, node: r.node };
  });
}
