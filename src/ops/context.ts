// What every workflow receives: the open DB, the validated config, the plugin registry, this
// node's name, a logger and a progress sink; plus withRun, the begin/finish wrapper of a run, which
// keeps the runs of this process in progress so an interruption (SIGINT/SIGTERM) can finish them.

import type { Db } from "../kernel/db.ts";
import type { Registry } from "../kernel/registry.ts";
import type { Logger, Progress, RunInfo } from "../kernel/plugin.ts";
import type { HoardConfig } from "../config/schema.ts";
import { beginRun, finishRun, recordRefusal, type BeginOptions, type Run, type RunStatus } from "../kernel/runs.ts";
import { finishRow } from "../kernel/terminal.ts";
import { AlreadyFinished, HoardError } from "../kernel/errors.ts";
import type { ProgressEvent } from "./meter.ts";

export interface OpContext {
  db: Db;
  config: HoardConfig;
  registry: Registry;
  node: string;
  log: Logger;
  progress(p: ProgressEvent): void;
  argv: string[];
  /** hoard's data directory (beside the DB): per-destination state lives under it. */
  dataDir: string;
}

export const runInfo = (r: Run): RunInfo => ({ id: r.id, kind: r.kind, volume: r.volume, destination: r.destination });

export interface RunOutcome<T> {
  status: Exclude<RunStatus, "running" | "aborted">;
  counts: Record<string, unknown>;
  result: T;
  error?: string;
}

/** A run of this process in progress: its DB, the destinations it touches, the last progress event seen. */
interface Active {
  run: Run;
  db: Db;
  touches: readonly string[];
  last?: Progress;
}
const active = new Map<bigint, Active>();
/** Runs of this process that finished, oldest first (what an interruption reports as done before it). */
const finished: RunSummary[] = [];
/** Every DB a run of this process used (hook rows of this process live there). */
const dbs = new Set<Db>();

export interface RunSummary {
  id: bigint;
  kind: string;
  volume: string | null;
  destination: string | null;
  status: string;
  counts: Record<string, unknown>;
}

/** Note a progress event on the runs in progress (what an interruption reports they were doing). */
export function noteProgress(p: Progress): void {
  for (const a of active.values()) a.last = p;
}

/** What the progress line names: the volume and the destination(s) of the run in progress (the one an event names, if it does). */
export function activityLabel(p?: ProgressEvent): string | undefined {
  let a: Active | undefined;
  for (const x of active.values()) a = x; // the newest
  if (!a) return undefined;
  const to = p?.destination ?? a.run.destination ?? (a.touches.length ? a.touches.join(", ") : "");
  return [a.run.volume, to && `→ ${to}`].filter(Boolean).join(" ") || undefined;
}

export const finishedRuns = (): readonly RunSummary[] => finished;

/**
 * The counts of an interrupted run: where it was (its last progress event) and the file rows it
 * moved to each status (e.g. `{ offloaded: 12 }`: those files are offloaded, their rows say so).
 */
function interruptedCounts(a: Active): Record<string, unknown> {
  const changes: Record<string, number> = {};
  let changedBytes = 0;
  try {
    for (const r of a.db.all<{ status: string; n: bigint; b: bigint | null }>("SELECT status, count(*) AS n, sum(size) AS b FROM files WHERE status_changed_run = ? AND status <> 'superseded' GROUP BY status", a.run.id)) {
      changes[r.status] = Number(r.n);
      changedBytes += Number(r.b ?? 0);
    }
  } catch {
    /* the summary is best effort; the row is finished anyway */
  }
  const p = a.last;
  return {
    phase: p?.phase ?? null,
    done: p?.done ?? 0,
    total: p?.total ?? null,
    bytes: p?.bytes ?? null,
    status_changes: changes,
    status_changes_bytes: changedBytes,
  };
}

/**
 * Finish every run of this process still in progress as `aborted` with note "interrupted" (and the
 * hook runs this process is running), synchronously: called from a signal handler, between two
 * turns of the event loop, so no transaction is half done. Returns what was aborted.
 */
export function abortActiveRuns(signal: string): RunSummary[] {
  const out: RunSummary[] = [];
  for (const a of [...active.values()].reverse()) {
    const counts = interruptedCounts(a);
    try {
      finishRun(a.db, a.run.id, "aborted", { counts, note: "interrupted", error: `interrupted by ${signal}` });
      out.push({ id: a.run.id, kind: a.run.kind, volume: a.run.volume, destination: a.run.destination, status: "aborted", counts });
    } catch (e) {
      if (!(e instanceof AlreadyFinished)) throw e;
    }
    active.delete(a.run.id);
  }
  for (const db of dbs) {
    try {
      for (const h of db.all<{ id: bigint }>("SELECT id FROM hook_runs WHERE status = 'running' AND runner_pid = ?", process.pid))
        try {
          finishRow(db, "hook_runs", h.id, "aborted", { note: `interrupted by ${signal}; process group stopped` });
        } catch {
          /* finished meanwhile */
        }
    } catch {
      /* an older schema without runner_pid: the next hook run reaps it */
    }
  }
  return out;
}

/**
 * Begin a run (or record a refusal), execute body, and finish it exactly once. A refusal thrown
 * before begin (identity checks) is recorded as a refused run row; errors inside mark it failed.
 * What the checks return (e.g. the volume root they verified) is handed to the body.
 */
export async function withRun<T, C = void>(ctx: OpContext, o: Omit<BeginOptions, "node" | "argv">, checks: () => Promise<C> | C, body: (run: Run, checked: C) => Promise<RunOutcome<T>>): Promise<{ run: Run } & RunOutcome<T>> {
  const begin: BeginOptions = { ...o, node: ctx.node, argv: ctx.argv };
  let checked: C;
  try {
    checked = await checks();
  } catch (e) {
    if (e instanceof HoardError && e.kind === "refused") recordRefusal(ctx.db, begin, e.message);
    // e.g. an unreachable destination: a failed row, so `status --check` sees the last sync failed
    else if (e instanceof HoardError && e.kind === "failure") recordRefusal(ctx.db, begin, e.message, "failed");
    throw e;
  }
  let run: Run;
  try {
    run = beginRun(ctx.db, begin); // throws a refusal naming the blocker
  } catch (e) {
    if (e instanceof HoardError && e.kind === "refused") recordRefusal(ctx.db, begin, e.message); // every invocation leaves a row
    throw e;
  }
  // in progress from here to its finish (same turn of the event loop as the begin and the finish)
  active.set(run.id, { run, db: ctx.db, touches: o.touches ?? [] });
  dbs.add(ctx.db);
  const done = (status: string, counts: Record<string, unknown>) => {
    active.delete(run.id);
    if (finished.length >= 100) finished.shift();
    finished.push({ id: run.id, kind: run.kind, volume: run.volume, destination: run.destination, status, counts });
  };
  try {
    ctx.progress({ phase: run.kind, done: 0 }); // the line names the run even when its phases report nothing
    await ctx.registry.emit("run:begin", { run: runInfo(run) });
    const out = await body(run, checked);
    finishRun(ctx.db, run.id, out.status, { counts: out.counts, error: out.error });
    done(out.status, out.counts);
    await ctx.registry.emit("run:finish", { run: runInfo(run), status: out.status, counts: out.counts });
    return { run, ...out };
  } catch (e) {
    const status = e instanceof HoardError && e.kind === "refused" ? "refused" : "failed";
    try {
      finishRun(ctx.db, run.id, status, { error: (e as Error)?.message ?? String(e) });
      done(status, {});
    } catch {
      /* already finished: keep the first record */
    }
    throw e;
  } finally {
    active.delete(run.id);
  }
}
