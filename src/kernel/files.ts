// Content and file rows: content is append-only with its origin fixed at first insert; a file
// row follows present → missing/offloaded/superseded, and a changed file supersedes its old row.

import type { Db } from "./db.ts";
import type { ManifestEntry } from "./plugin.ts";
import { nowNs } from "./runtime.ts";

export type FileStatus = "present" | "missing" | "offloaded" | "superseded";

export interface FileRow {
  id: bigint;
  volume: string;
  path: string;
  content_id: bigint;
  status: FileStatus;
  size: bigint;
  mtime_ns: bigint;
  ino: bigint | null;
  first_seen_run: bigint;
  last_seen_run: bigint;
  status_changed_run: bigint;
}

export interface LiveFile extends FileRow {
  blake3: string;
  origin_node: string;
  origin_run: bigint;
}

const LIVE_SELECT = `SELECT f.*, c.blake3, c.origin_node, c.origin_run FROM files f JOIN content c ON c.id = f.content_id`;

export function liveFiles(db: Db, volume: string): LiveFile[] {
  return db.all<LiveFile>(`${LIVE_SELECT} WHERE f.volume = ? AND f.status <> 'superseded' ORDER BY f.path`, volume);
}
export function liveFile(db: Db, volume: string, path: string): LiveFile | undefined {
  return db.get<LiveFile>(`${LIVE_SELECT} WHERE f.volume = ? AND f.path = ? AND f.status <> 'superseded'`, volume, path);
}

/**
 * The manifest of a sync or verify: every present or offloaded row with its content's digest and
 * origin, ordered by path, shaped as handlers receive it (only the columns a manifest needs).
 * `statusChangedRuns`, when given, receives each entry's status_changed_run (aligned by index).
 */
export function manifestRows(db: Db, volume: string, statusChangedRuns?: bigint[]): ManifestEntry[] {
  const rows = db.all<{ path: string; size: bigint; mtime_ns: bigint; status: "present" | "offloaded"; content_id: bigint; blake3: string; origin_node: string; origin_run: bigint; status_changed_run: bigint }>(
    `SELECT f.path, f.size, f.mtime_ns, f.status, f.content_id, c.blake3, c.origin_node, c.origin_run, f.status_changed_run FROM files f JOIN content c ON c.id = f.content_id
     WHERE f.volume = ? AND f.status <> 'superseded' AND f.status IN ('present', 'offloaded') ORDER BY f.path`, // "<> 'superseded'" lets SQLite use the partial index files_live, already in path order
    volume,
  );
  const out: ManifestEntry[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    out[i] = { path: r.path, size: Number(r.size), mtimeNs: r.mtime_ns, blake3: r.blake3, contentId: r.content_id, originNode: r.origin_node, originRun: r.origin_run, status: r.status };
    if (statusChangedRuns) statusChangedRuns[i] = r.status_changed_run;
  }
  return out;
}

/** The lean view of live rows the index walk compares against (only what it needs). */
export interface IndexRow {
  id: bigint;
  path: string;
  status: FileStatus;
  size: bigint;
  mtime_ns: bigint;
  ino: bigint | null;
  content_id: bigint;
}
/** The next `limit` live rows after path `after` in path order (the index walk merges with these, a page at a time). */
export function indexRowsAfter(db: Db, volume: string, after: string, limit: number): IndexRow[] {
  return db.all<IndexRow>("SELECT id, path, status, size, mtime_ns, ino, content_id FROM files WHERE volume = ? AND status <> 'superseded' AND path > ? ORDER BY path LIMIT ?", volume, after, limit);
}
/** The digests of the live rows directly in directory `dirRel` ("" for the volume's top). */
export function liveDigestsIn(db: Db, volume: string, dirRel: string): Set<string> {
  const rows = dirRel
    ? db.all<{ blake3: string }>(
        "SELECT DISTINCT c.blake3 FROM files f JOIN content c ON c.id = f.content_id WHERE f.volume = ? AND f.status <> 'superseded' AND f.path > ? AND f.path < ? AND instr(substr(f.path, ?), '/') = 0",
        volume, `${dirRel}/`, `${dirRel}0`, dirRel.length + 2,
      )
    : db.all<{ blake3: string }>("SELECT DISTINCT c.blake3 FROM files f JOIN content c ON c.id = f.content_id WHERE f.volume = ? AND f.status <> 'superseded' AND instr(f.path, '/') = 0", volume);
  return new Set(rows.map((r) => r.blake3));
}
export function contentDigest(db: Db, contentId: bigint): string {
  return db.get<{ blake3: string }>("SELECT blake3 FROM content WHERE id = ?", contentId)!.blake3;
}

/** The content id for a digest, inserting it with origin (node, run) if it is new. */
export function ensureContent(db: Db, blake3: string, size: number, node: string, run: bigint): { id: bigint; isNew: boolean } {
  // a digest already there is skipped by the trigger content_hash_once (no row, no change)
  const ins = db.run("INSERT INTO content(hash, size, origin_node, origin_run, created_at) VALUES (unhex(?),?,?,?,?)", blake3, size, node, run, nowNs());
  if (ins.changes === 1) return { id: ins.lastInsertRowid, isNew: true };
  return { id: db.get<{ id: bigint }>("SELECT id FROM content WHERE substr(hash, 1, 8) = substr(unhex(?), 1, 8) AND hash = unhex(?)", blake3, blake3)!.id, isNew: false };
}

export function insertFile(db: Db, f: { volume: string; path: string; contentId: bigint; size: number; mtimeNs: bigint; ino: bigint | null; run: bigint }): bigint {
  return db.run(
    "INSERT INTO files(volume, path, content_id, status, size, mtime_ns, ino, first_seen_run, last_seen_run, status_changed_run) VALUES (?,?,?,'present',?,?,?,?,?,?)",
    f.volume, f.path, f.contentId, f.size, f.mtimeNs, f.ino, f.run, f.run, f.run,
  ).lastInsertRowid;
}

/** Flip a row's status, guarded by its expected current status; returns whether it changed. */
export function setFileStatus(db: Db, id: bigint, from: FileStatus, to: FileStatus, run: bigint): boolean {
  return db.run("UPDATE files SET status = ?, status_changed_run = ? WHERE id = ? AND status = ?", to, run, id, from).changes === 1;
}

export function touchFile(db: Db, id: bigint, f: { size: number; mtimeNs: bigint; ino: bigint | null; run: bigint }): void {
  db.run("UPDATE files SET size = ?, mtime_ns = ?, ino = ?, last_seen_run = ? WHERE id = ?", f.size, f.mtimeNs, f.ino, f.run, id);
}

/** Was this content ever recorded at this path before (a revert to an earlier version)? */
export function pathHadContent(db: Db, volume: string, path: string, contentId: bigint): boolean {
  return db.get("SELECT 1 AS x FROM files WHERE volume = ? AND path = ? AND content_id = ? AND status = 'superseded' LIMIT 1", volume, path, contentId) !== undefined;
}

export interface StatusCount {
  status: FileStatus;
  files: bigint;
  bytes: bigint;
}
export function countByStatus(db: Db, volume: string): StatusCount[] {
  return db.all<StatusCount>("SELECT status, count(*) AS files, coalesce(sum(size), 0) AS bytes FROM files WHERE volume = ? GROUP BY status ORDER BY status", volume);
}

export function cachedDigest(db: Db, contentId: bigint, algo: string): string | undefined {
  return db.get<{ digest: string }>("SELECT digest FROM content_digests WHERE content_id = ? AND algo = ?", contentId, algo)?.digest;
}
export function storeDigest(db: Db, contentId: bigint, algo: string, digest: string): void {
  db.run("INSERT INTO content_digests(content_id, algo, digest) VALUES (?,?,?) ON CONFLICT DO NOTHING", contentId, algo, digest);
}
