// Streamed reads of a volume's live rows for the offload gate: pages in path order (bounded, no
// cursor left open between them) joining each row's latest object check at every required destination.

import type { Db } from "./db.ts";
import type { FileStatus } from "./files.ts";

/** The latest check of one object at one destination as the scan returns it (all null: none). */
export interface ScannedCheck {
  epoch: bigint | null;
  ok: bigint | null;
  method: string | null;
  reason: string | null;
  checked_run: bigint | null;
}

export interface ScannedRow {
  file: GateRow;
  /** Aligned with the destinations asked for. */
  checks: ScannedCheck[];
}

/**
 * One row of a page as SQLite returns it: the file's columns a gate, a confirmation and an unlink
 * need, and its check at the i-th destination asked for in e{i} (epoch), k{i} (ok), m{i} (method),
 * r{i} (reason), c{i} (checked_run); all null when there is none.
 */
export interface GateRow {
  id: bigint;
  path: string;
  content_id: bigint;
  status: FileStatus;
  size: bigint;
  mtime_ns: bigint;
  status_changed_run: bigint;
  origin_node: string;
  origin_run: bigint;
  /** Only when the page was asked `withHash` (else undefined: 64 characters per row saved). */
  blake3: string;
  [check: string]: unknown;
}

/**
 * The SQL that reads each destination's object check beside a files row `f`: the select-list columns
 * (named as checkColumn gives them) and the joins (one `?` each, bound to the destination's name).
 */
function checkSql(destinations: readonly string[]): { cols: string; joins: string } {
  return {
    cols: destinations.map((_, i) => `, o${i}.epoch AS e${i}, o${i}.ok AS k${i}, o${i}.method AS m${i}, o${i}.reason AS r${i}, o${i}.checked_run AS c${i}`).join(""),
    joins: destinations.map((_, i) => `LEFT JOIN dest_objects o${i} ON o${i}.destination = ? AND o${i}.volume = f.volume AND o${i}.path = f.path AND o${i}.content_id = f.content_id`).join(" "),
  };
}

/** Rows per page: big enough that a page's query costs nothing, small enough to hold. */
export const PAGE = 2000;

/**
 * Every live row of `volume` with one of `statuses`, in path order, with its object check at each of
 * `destinations`: pages of `page` rows (keyset: each page starts after the last path of the one before),
 * each read whole and its statement finished, so the caller may write between pages. With `range`, only
 * the rows from `range.from` up to below `range.below`.
 */
export function* gatePages(db: Db, volume: string, statuses: readonly FileStatus[], destinations: readonly string[], o: { withHash?: boolean; page?: number; range?: { from: string; below: string } } = {}): Generator<GateRow[]> {
  const { cols, joins } = checkSql(destinations);
  const page = o.page ?? PAGE;
  // "<> 'superseded'" picks the partial index files_live, in path order; "path > ?" starts the page
  const sql = (after: boolean) => `SELECT f.id, f.path, f.content_id, f.status, f.size, f.mtime_ns, f.status_changed_run, c.origin_node, c.origin_run${o.withHash ? ", c.blake3" : ""}${cols}
    FROM files f JOIN content c ON c.id = f.content_id ${joins}
    WHERE f.volume = ? AND f.status <> 'superseded'${after ? " AND f.path > ?" : o.range ? " AND f.path >= ?" : ""}${o.range ? " AND f.path < ?" : ""} AND f.status IN (${statuses.map(() => "?").join(", ")}) ORDER BY f.path LIMIT ${page}`;
  const first = sql(false);
  const next = sql(true);
  const below = o.range ? [o.range.below] : [];
  let rows = db.all<GateRow>(first, ...destinations, volume, ...(o.range ? [o.range.from] : []), ...below, ...statuses);
  while (rows.length > 0) {
    yield rows;
    if (rows.length < page) return;
    rows = db.all<GateRow>(next, ...destinations, volume, rows[rows.length - 1]!.path, ...below, ...statuses);
  }
}

/** What the gate reads of a row: its origin, origin run, status-changed run and check columns. */
export type ClassKey = Pick<GateRow, "origin_node" | "origin_run" | "status_changed_run"> & { [check: string]: unknown };

/** One class of rows (see gateClasses), with the rows' count and bytes. */
export type ClassRow = ClassKey & { files: bigint; bytes: bigint };

/**
 * The live rows of `volume` with one of `statuses` grouped by what the gate reads of them (origin,
 * origin run, status-changed run, and the check at each of `destinations` in the columns of gatePages),
 * with their count and bytes: one pass inside SQLite, no row handed out.
 */
export function gateClasses(db: Db, volume: string, statuses: readonly FileStatus[], destinations: readonly string[]): ClassRow[] {
  const { cols, joins } = checkSql(destinations);
  const n = 3 + 5 * destinations.length;
  return db.all<ClassRow>(
    `SELECT c.origin_node, c.origin_run, f.status_changed_run${cols}, count(*) AS files, sum(f.size) AS bytes
    FROM files f JOIN content c ON c.id = f.content_id ${joins}
    WHERE f.volume = ? AND f.status <> 'superseded' AND f.status IN (${statuses.map(() => "?").join(", ")}) GROUP BY ${Array.from({ length: n }, (_, i) => i + 1).join(", ")}`,
    ...destinations, volume, ...statuses,
  );
}

/** Column names of the i-th destination's check in a GateRow. */
export const checkColumn = (i: number) => ({ e: `e${i}`, k: `k${i}`, m: `m${i}`, r: `r${i}`, c: `c${i}` });
export type CheckColumn = ReturnType<typeof checkColumn>;
export const checkColumns = (n: number): CheckColumn[] => Array.from({ length: n }, (_, i) => checkColumn(i));

/** The check of a row in these columns. */
export function checkOf(r: ClassKey, col: CheckColumn): ScannedCheck {
  return { epoch: r[col.e] as bigint | null, ok: r[col.k] as bigint | null, method: r[col.m] as string | null, reason: r[col.r] as string | null, checked_run: r[col.c] as bigint | null };
}

/**
 * Every live row of `volume` with one of `statuses`, in path order, with its object check at each
 * of `destinations` (as a list), read page by page (never the whole volume in memory).
 */
export function* scanLive(db: Db, volume: string, statuses: readonly FileStatus[], destinations: readonly string[]): Generator<ScannedRow> {
  const cols = checkColumns(destinations.length);
  for (const page of gatePages(db, volume, statuses, destinations)) for (const file of page) yield { file, checks: cols.map((c) => checkOf(file, c)) };
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
