// The runs table as the `runs` commands show it: a list (newest first, filtered) and one run in full,
// its JSON columns decoded.

import { getRun, listRuns } from "../kernel/runs.ts";
import type { OpContext } from "./context.ts";

/** Runs, newest first: of a volume or kind, at most `limit`. */
export function runList(ctx: OpContext, f: { volume?: string; kind?: string; limit: number }) {
  return listRuns(ctx.db, f).map((r) => ({ id: r.id, kind: r.kind, volume: r.volume, destination: r.destination, status: r.status, started_at: r.started_at, finished_at: r.finished_at, node: r.node, pid: r.pid, error: r.error, note: r.note }));
}

/** One run with touches, counts and argv decoded (undefined: no such run). */
export function runDetail(ctx: OpContext, id: bigint) {
  const r = getRun(ctx.db, id);
  if (!r) return undefined;
  return { ...r, touches: JSON.parse(r.touches), counts: r.counts ? JSON.parse(r.counts) : null, argv: r.argv ? JSON.parse(r.argv) : null };
}
