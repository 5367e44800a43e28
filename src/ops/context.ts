// What every workflow receives: the open DB, the validated config, the plugin registry, this
// node's name, a logger and a progress sink; plus withRun, the begin/finish wrapper of a run.

import type { Db } from "../kernel/db.ts";
import type { Registry } from "../kernel/registry.ts";
import type { Logger, Progress, RunInfo } from "../kernel/plugin.ts";
import type { HoardConfig } from "../config/schema.ts";
import { beginRun, finishRun, recordRefusal, type BeginOptions, type Run, type RunStatus } from "../kernel/runs.ts";
import { HoardError } from "../kernel/errors.ts";

export interface OpContext {
  db: Db;
  config: HoardConfig;
  registry: Registry;
  node: string;
  log: Logger;
  progress(p: Progress): void;
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

/**
 * Begin a run (or record a refusal), execute body, and finish it exactly once. A refusal thrown
 * before begin (identity checks) is recorded as a refused run row; errors inside mark it failed.
 */
export async function withRun<T>(ctx: OpContext, o: Omit<BeginOptions, "node" | "argv">, checks: () => Promise<void> | void, body: (run: Run) => Promise<RunOutcome<T>>): Promise<{ run: Run } & RunOutcome<T>> {
  const begin: BeginOptions = { ...o, node: ctx.node, argv: ctx.argv };
  try {
    await checks();
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
  try {
    await ctx.registry.emit("run:begin", { run: runInfo(run) });
    const out = await body(run);
    finishRun(ctx.db, run.id, out.status, { counts: out.counts, error: out.error });
    await ctx.registry.emit("run:finish", { run: runInfo(run), status: out.status, counts: out.counts });
    return { run, ...out };
  } catch (e) {
    const status = e instanceof HoardError && e.kind === "refused" ? "refused" : "failed";
    try {
      finishRun(ctx.db, run.id, status, { error: (e as Error)?.message ?? String(e) });
    } catch {
      /* already finished: keep the first record */
    }
    throw e;
  }
}
