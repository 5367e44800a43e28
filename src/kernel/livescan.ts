// Streamed reads of a volume's live rows for the offload gate: one cursor in path order joining
// each row's latest object check at every required destination; and the literal-path probe.

import type { Db } from "./db.ts";
import type { FileStatus, LiveFile } from "./files.ts";

/** The latest check of one object at one destination as the scan returns it (all null: none). */
export interface ScannedCheck {
  epoch: bigint | null;
  ok: bigint | null;
  method: string | null;
  reason: string | null;
  checked_run: bigint | null;
}

export interface ScannedRow {
  file: LiveFile;
  /** Aligned with the destinations asked for. */
  checks: ScannedCheck[];
}

/**
 * Every live row of `volume` with one of `statuses`, in path order, with its object check at each
 * of `destinations`: one query, read through a cursor (never the whole volume in memory).
 */
export function* scanLive(db: Db, volume: string, statuses: readonly FileStatus[], destinations: readonly string[]): Generator<ScannedRow> {
  const cols = destinations.map((_, i) => `o${i}.epoch AS e${i}, o${i}.ok AS k${i}, o${i}.method AS m${i}, o${i}.reason AS r${i}, o${i}.checked_run AS c${i}`);
  const joins = destinations.map((_, i) => `LEFT JOIN dest_objects o${i} ON o${i}.destination = ? AND o${i}.volume = f.volume AND o${i}.path = f.path AND o${i}.content_id = f.content_id`);
  const sql = `SELECT f.*, c.blake3, c.origin_node, c.origin_run${cols.map((c) => `, ${c}`).join("")}
    FROM files f JOIN content c ON c.id = f.content_id ${joins.join(" ")}
    WHERE f.volume = ? AND f.status <> 'superseded' AND f.status IN (${statuses.map(() => "?").join(", ")}) ORDER BY f.path`; // "<> 'superseded'" picks the partial index files_live, in path order
  const n = destinations.length;
  for (const r of db.iterate<Record<string, unknown>>(sql, ...destinations, volume, ...statuses)) {
    const checks: ScannedCheck[] = new Array(n);
    for (let i = 0; i < n; i++)
      checks[i] = { epoch: r[`e${i}`] as bigint | null, ok: r[`k${i}`] as bigint | null, method: r[`m${i}`] as string | null, reason: r[`r${i}`] as string | null, checked_run: r[`c${i}`] as bigint | null };
    const file: LiveFile = {
      id: r.id as bigint, volume: r.volume as string, path: r.path as string, content_id: r.content_id as bigint, status: r.status as FileStatus, size: r.size as bigint,
      mtime_ns: r.mtime_ns as bigint, ino: r.ino as bigint | null, first_seen_run: r.first_seen_run as bigint, last_seen_run: r.last_seen_run as bigint,
      status_changed_run: r.status_changed_run as bigint, blake3: r.blake3 as string, origin_node: r.origin_node as string, origin_run: r.origin_run as bigint,
    };
    yield { file, checks };
  }
}

/** Does a live row with one of `statuses` sit at `path` or below it (a literal path selector)? */
export function liveUnder(db: Db, volume: string, statuses: readonly FileStatus[], path: string): boolean {
  // p starts with "path/" exactly when "path/" ≤ p < "path0" ('0' follows '/')
  return (
    db.get(
      `SELECT 1 AS x FROM files WHERE volume = ? AND status <> 'superseded' AND (path = ? OR (path >= ? AND path < ?)) AND status IN (${statuses.map(() => "?").join(", ")}) LIMIT 1`,
      volume, path, `${path}/`, `${path}0`, ...statuses,
    ) !== undefined
  );
}
