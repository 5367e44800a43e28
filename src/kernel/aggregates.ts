// The per-class aggregates `status` reads instead of every row (kept by triggers, schema v5), their
// full recount from the base tables (the test's and doctor's reference), and status's other queries.

import type { Db } from "./db.ts";
import type { FileStatus } from "./files.ts";

/** Files and bytes of one volume per (status, origin node, origin run, status-changed run). */
export interface FileClass {
  status: FileStatus;
  origin_node: string;
  origin_run: bigint;
  status_changed_run: bigint;
  files: bigint;
  bytes: bigint;
}

/** Live files of one volume at one destination per file class and the fields of their latest object check there. */
export interface ObjectClass extends FileClass {
  epoch: bigint;
  ok: bigint;
  /** '' when the check recorded no method. */
  method: string;
  /** null when the object's content was never compared there. */
  checked_run: bigint | null;
  /** Whether the record holds a content-check time. */
  timed: bigint;
}

const FILE_KEY = "status, origin_node, origin_run, status_changed_run";
const OBJECT_KEY = `${FILE_KEY}, epoch, ok, method, checked_run, timed`;

export function fileClasses(db: Db, volume: string): FileClass[] {
  return db.all<FileClass>(`SELECT ${FILE_KEY}, files, bytes FROM file_classes WHERE volume = ? AND files > 0 ORDER BY ${FILE_KEY}`, volume);
}

export function objectClasses(db: Db, volume: string, destination: string): ObjectClass[] {
  return db.all<ObjectClass>(
    `SELECT ${FILE_KEY}, epoch, ok, method, nullif(checked_run, -1) AS checked_run, timed, files, bytes FROM object_classes
     WHERE destination = ? AND volume = ? AND files > 0 ORDER BY ${OBJECT_KEY}`,
    destination, volume,
  );
}

/** Files and bytes by status (from the aggregates). */
export function statusTotals(db: Db, volume: string): { status: FileStatus; files: bigint; bytes: bigint }[] {
  return db.all("SELECT status, sum(files) AS files, sum(bytes) AS bytes FROM file_classes WHERE volume = ? AND files > 0 GROUP BY status ORDER BY status", volume);
}

/** The origin nodes of a volume's present or offloaded content (from the aggregates). */
export function liveOrigins(db: Db, volume: string): string[] {
  return db.all<{ origin_node: string }>("SELECT DISTINCT origin_node FROM file_classes WHERE volume = ? AND status IN ('present', 'offloaded') AND files > 0 ORDER BY origin_node", volume).map((r) => r.origin_node);
}

/** The file classes recounted from files and content (what file_classes must equal). */
export function recountFileClasses(db: Db, volume: string): FileClass[] {
  return db.all<FileClass>(
    `SELECT f.status, c.origin_node, c.origin_run, f.status_changed_run, count(*) AS files, coalesce(sum(f.size), 0) AS bytes
     FROM files f JOIN content c ON c.id = f.content_id WHERE f.volume = ? GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`,
    volume,
  );
}

/** The object classes recounted from files, content and dest_objects (what object_classes must equal). */
export function recountObjectClasses(db: Db, volume: string, destination: string): ObjectClass[] {
  return db.all<ObjectClass>(
    `SELECT f.status, c.origin_node, c.origin_run, f.status_changed_run, o.epoch, o.ok, coalesce(o.method, '') AS method, o.checked_run,
       o.checked_at IS NOT NULL AS timed, count(*) AS files, coalesce(sum(f.size), 0) AS bytes
     FROM files f JOIN content c ON c.id = f.content_id JOIN dest_objects o ON o.destination = ? AND o.volume = f.volume AND o.path = f.path AND o.content_id = f.content_id
     WHERE f.volume = ? AND f.status <> 'superseded' AND o.destination IN (SELECT name FROM destinations)
     GROUP BY 1, 2, 3, 4, 5, 6, 7, coalesce(o.checked_run, -1), 9 ORDER BY 1, 2, 3, 4, 5, 6, 7, coalesce(o.checked_run, -1), 9`,
    destination, volume,
  );
}

/** The oldest content-check time among a volume's live objects at a destination in this epoch (null: none). */
export function oldestCheckedAt(db: Db, volume: string, destination: string, epoch: bigint): bigint | null {
  // walks the checked_at index upwards to the first record whose file is still live
  const r = db.get<{ checked_at: bigint }>(
    `SELECT o.checked_at FROM dest_objects o INDEXED BY dest_objects_checked
     WHERE o.destination = ? AND o.volume = ? AND o.epoch = ? AND o.checked_at IS NOT NULL
       AND EXISTS (SELECT 1 FROM files f WHERE f.volume = o.volume AND f.path = o.path AND f.status <> 'superseded' AND f.content_id = o.content_id AND f.status IN ('present', 'offloaded'))
     ORDER BY o.checked_at LIMIT 1`,
    destination, volume, epoch,
  );
  return r?.checked_at ?? null;
}

/** The last sync run of a volume to a destination (running or finished). */
export function lastSyncRun(db: Db, volume: string, destination: string) {
  return db.get<{ id: bigint; status: string; started_at: bigint; finished_at: bigint | null; kind: string }>(
    "SELECT id, status, started_at, finished_at, kind FROM runs WHERE volume = ? AND destination = ? AND kind = 'sync' ORDER BY id DESC LIMIT 1",
    volume, destination,
  );
}
