// The evidence vector: one component per (volume, destination, origin node), written only by the
// kernel, monotonic except through rewind or reset, every applied write logged insert-only.

import type { Db } from "./db.ts";
import { refused } from "./errors.ts";
import { nowNs } from "./runtime.ts";
import type { Advance } from "./evidence.ts";
import type { ComponentView } from "./plugin.ts";

export interface ComponentRow {
  volume: string;
  destination: string;
  origin_node: string;
  origin_run: bigint;
  method: string;
  verified_at: bigint | null;
  confirmed_run: bigint | null;
  updated_at: bigint;
  source: string;
  epoch: bigint;
}

export const componentView = (c: ComponentRow): ComponentView => ({
  volume: c.volume,
  destination: c.destination,
  originNode: c.origin_node,
  originRun: c.origin_run,
  method: c.method,
  verifiedAt: c.verified_at,
  confirmedRun: c.confirmed_run,
  epoch: c.epoch,
});

export function components(db: Db, f: { volume?: string; destination?: string } = {}): ComponentRow[] {
  const where: string[] = [];
  const p: string[] = [];
  if (f.volume) (where.push("volume = ?"), p.push(f.volume));
  if (f.destination) (where.push("destination = ?"), p.push(f.destination));
  return db.all<ComponentRow>(`SELECT * FROM evidence ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY volume, destination, origin_node`, ...p);
}
export function component(db: Db, volume: string, destination: string, originNode: string): ComponentRow | undefined {
  return db.get<ComponentRow>("SELECT * FROM evidence WHERE volume = ? AND destination = ? AND origin_node = ?", volume, destination, originNode);
}

type HistoryKind = "advance" | "reverify" | "rewind" | "reset" | "expire";
export function logHistory(db: Db, h: { volume: string; destination: string; originNode: string; kind: HistoryKind; oldRun: bigint | null; newRun: bigint | null; method: string | null; run: bigint | null; epoch: bigint; verifiedAt: bigint | null; note?: string }): void {
  db.run(
    "INSERT INTO evidence_history(volume, destination, origin_node, kind, old_run, new_run, method, run, epoch, verified_at, at, note) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
    h.volume, h.destination, h.originNode, h.kind, h.oldRun, h.newRun, h.method, h.run, h.epoch, h.verifiedAt, nowNs(), h.note ?? null,
  );
}

export type WriteResult = "advanced" | "reverified" | "unchanged";

/** The newest `expire` event in a component's history (what it recorded: the epoch and verified_at it judged). */
export function lastExpire(db: Db, volume: string, destination: string, originNode: string): { epoch: bigint; verified_at: bigint | null; at: bigint } | undefined {
  return db.get<{ epoch: bigint; verified_at: bigint | null; at: bigint }>(
    "SELECT epoch, verified_at, at FROM evidence_history WHERE volume = ? AND destination = ? AND origin_node = ? AND kind = 'expire' ORDER BY id DESC LIMIT 1",
    volume, destination, originNode,
  );
}

/**
 * Apply one computed advance from run `run` in destination epoch `epoch`. Raising the value is an
 * advance; an equal value means the whole prefix was verified again in this run (reverify); a
 * lower value is refused (only rewind and reset lower a component).
 */
export function writeAdvance(db: Db, volume: string, destination: string, epoch: bigint, run: bigint, a: Advance, confirmedRun: bigint | null = run): WriteResult {
  if (a.originRun === null) {
    return "unchanged";
  }
  const cur = component(db, volume, destination, a.originNode);
  const now = nowNs();
  const live = cur && cur.epoch === epoch ? cur : undefined;
  if (live && a.originRun < live.origin_run)
    throw refused("evidence_lower", `refused to lower evidence ${volume}/${destination}/${a.originNode} from run ${live.origin_run} to ${a.originRun}`, `lowering is only possible with \`hoard evidence rewind ${volume} ${destination} --origin ${a.originNode} --to ${a.originRun} --yes\``);
  const kind: HistoryKind = live && a.originRun === live.origin_run ? "reverify" : "advance";
  db.run(
    `INSERT INTO evidence(volume, destination, origin_node, origin_run, method, verified_at, confirmed_run, updated_at, source, epoch) VALUES (?,?,?,?,?,?,?,?, 'local', ?)
     ON CONFLICT(volume, destination, origin_node) DO UPDATE SET origin_run = excluded.origin_run, method = excluded.method, verified_at = excluded.verified_at,
       confirmed_run = excluded.confirmed_run, updated_at = excluded.updated_at, source = excluded.source, epoch = excluded.epoch`,
    volume, destination, a.originNode, a.originRun, a.method, a.verifiedAt, confirmedRun, now, epoch,
  );
  logHistory(db, { volume, destination, originNode: a.originNode, kind, oldRun: live?.origin_run ?? null, newRun: a.originRun, method: a.method, run, epoch, verifiedAt: a.verifiedAt });
  return kind === "advance" ? "advanced" : "reverified";
}

/** A run that did not verify the whole current prefix: only updated_at moves. */
export function touchComponent(db: Db, volume: string, destination: string, originNode: string): void {
  db.run("UPDATE evidence SET updated_at = ? WHERE volume = ? AND destination = ? AND origin_node = ?", nowNs(), volume, destination, originNode);
}

/**
 * Move a component's verified_at forward to `at` (never back): the oldest content check behind its
 * whole prefix is now `at` (rolling re-verification re-read the objects that were oldest). Nothing
 * else changes: not its value, method or confirmed_run. Logged as a reverify with a note.
 */
export function refreshVerifiedAt(db: Db, volume: string, destination: string, originNode: string, epoch: bigint, at: bigint, run: bigint): boolean {
  const cur = component(db, volume, destination, originNode);
  if (!cur || cur.epoch !== epoch || (cur.verified_at !== null && at <= cur.verified_at)) return false;
  db.run("UPDATE evidence SET verified_at = ?, updated_at = ? WHERE volume = ? AND destination = ? AND origin_node = ?", at, nowNs(), volume, destination, originNode);
  logHistory(db, { volume, destination, originNode, kind: "reverify", oldRun: cur.origin_run, newRun: cur.origin_run, method: cur.method, run, epoch, verifiedAt: at, note: "rolling re-verification: the oldest content check behind the prefix moved forward" });
  return true;
}

/** Lower one component explicitly (guarded by the caller's --yes); recorded in history. */
export function rewindComponent(db: Db, volume: string, destination: string, originNode: string, to: bigint, run: bigint): { from: bigint; to: bigint } {
  const cur = component(db, volume, destination, originNode);
  if (!cur) throw refused("no_component", `no evidence for ${volume} at ${destination} from origin ${originNode}`, "see `hoard evidence " + volume + "`");
  if (to > cur.origin_run) throw refused("rewind_up", `rewind can only lower evidence: current run ${cur.origin_run}, asked ${to}`, "evidence rises only through a verified sync");
  db.run("UPDATE evidence SET origin_run = ?, confirmed_run = NULL, updated_at = ? WHERE volume = ? AND destination = ? AND origin_node = ?", to, nowNs(), volume, destination, originNode);
  logHistory(db, { volume, destination, originNode, kind: "rewind", oldRun: cur.origin_run, newRun: to, method: cur.method, run, epoch: cur.epoch, verifiedAt: cur.verified_at, note: "explicit rewind" });
  return { from: cur.origin_run, to };
}

/** Zero every component of a destination for a new epoch (history kept). */
export function resetDestinationComponents(db: Db, destination: string, epoch: bigint, run: bigint): number {
  const rows = components(db, { destination });
  for (const c of rows) {
    db.run("UPDATE evidence SET origin_run = 0, verified_at = NULL, confirmed_run = NULL, method = '', updated_at = ?, epoch = ? WHERE volume = ? AND destination = ? AND origin_node = ?", nowNs(), epoch, c.volume, destination, c.origin_node);
    logHistory(db, { volume: c.volume, destination, originNode: c.origin_node, kind: "reset", oldRun: c.origin_run, newRun: 0n, method: null, run, epoch, verifiedAt: null, note: "destination reset" });
  }
  return rows.length;
}
