// `hoard db backup`: a consistent online copy of the database (VACUUM INTO a private temp file beside the
// target, fsynced, linked into place so an existing file is never replaced), and the reminder sync shows.

import { closeSync, existsSync, fsyncSync, linkSync, openSync, renameSync, statSync, unlinkSync, chmodSync, constants } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { randomUUID } from "node:crypto";
import { createPrivateFile, PRIVATE_FILE, type Db } from "../kernel/db.ts";
import { failure, HoardError, refused } from "../kernel/errors.ts";
import { nowNs } from "../kernel/runtime.ts";

/** meta keys: when (ns) and where the last backup was written. */
export const BACKUP_AT_KEY = "db_backup:last_at";
export const BACKUP_FILE_KEY = "db_backup:last_file";

/** `<db>.backup-<UTC timestamp>`, e.g. hoard.db.backup-20250102T030405Z. */
export function defaultBackupPath(dbPath: string, now = new Date()): string {
  return `${dbPath}.backup-${now.toISOString().replace(/[-:]|\.\d+/g, "")}`;
}

const NO_HARD_LINKS = new Set(["EPERM", "EOPNOTSUPP", "ENOTSUP", "ENOSYS", "EMLINK", "EXDEV"]);

function fsyncPath(path: string, dir = false): void {
  const fd = openSync(path, dir ? constants.O_RDONLY | (constants.O_DIRECTORY ?? 0) : constants.O_RDONLY);
  try {
    fsyncSync(fd);
  } catch (e: any) {
    if (!dir || (e?.code !== "EINVAL" && e?.code !== "EBADF")) throw e; // some file systems cannot fsync a directory
  } finally {
    closeSync(fd);
  }
}

/**
 * Copy the open database to `file` (default: beside it, timestamped). Refuses (exit 3) an existing
 * `file`; the copy is private (0600), complete (WAL included) and durable before it gets its name.
 */
export function backupDb(db: Db, file?: string): { file: string; bytes: number; at: bigint } {
  const target = resolve(file ?? defaultBackupPath(db.path));
  const same = [db.path, `${db.path}-wal`, `${db.path}-shm`].map((p) => resolve(p));
  if (existsSync(target) || same.includes(target))
    throw refused("backup_exists", `refused: ${target} already exists; hoard db backup never overwrites a file`, "name a new file (or move the old one away)", { file: target });
  if (!existsSync(dirname(target))) throw failure("backup_dir_missing", `cannot write ${target}: directory ${dirname(target)} does not exist`, "create the directory (or mount the disk) first");
  const tmp = resolve(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomUUID().slice(0, 8)}`);
  try {
    createPrivateFile(tmp);
    db.run("VACUUM INTO ?", tmp); // one read transaction: a consistent copy while others keep writing
    chmodSync(tmp, PRIVATE_FILE);
    fsyncPath(tmp);
    try {
      linkSync(tmp, target); // EEXIST instead of replacing a file that appeared meanwhile
      unlinkSync(tmp);
    } catch (e: any) {
      if (e?.code === "EEXIST") throw refused("backup_exists", `refused: ${target} appeared while the backup was written; it was not replaced`, "name a new file", { file: target });
      if (!NO_HARD_LINKS.has(e?.code)) throw e;
      if (existsSync(target)) throw refused("backup_exists", `refused: ${target} appeared while the backup was written; it was not replaced`, "name a new file", { file: target });
      renameSync(tmp, target); // a file system without hard links (e.g. FAT on a USB stick)
    }
    fsyncPath(dirname(target), true);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already moved or never made */
    }
    if (e instanceof HoardError) throw e;
    throw failure("backup_failed", `cannot back up database ${db.path} to ${target}: ${(e as Error)?.message ?? e}`, "check free space and permissions at the target; nothing was replaced");
  }
  const at = nowNs();
  db.tx(() => {
    db.run("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", BACKUP_AT_KEY, String(at));
    db.run("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", BACKUP_FILE_KEY, target);
  });
  return { file: target, bytes: statSync(target).size, at };
}

/** When the database was last backed up (ns), or undefined when never. */
export function lastBackupAt(db: Db): bigint | undefined {
  const v = db.get<{ value: string }>("SELECT value FROM meta WHERE key = ?", BACKUP_AT_KEY)?.value;
  return v === undefined ? undefined : BigInt(v);
}

/** The one-line reminder of a sync: the DB was never backed up while it maps offloaded files of `volume`. */
export function backupReminder(db: Db, volume: string): string | undefined {
  if (lastBackupAt(db) !== undefined) return undefined;
  const n = Number(db.get<{ n: bigint }>("SELECT count(*) AS n FROM files WHERE volume = ? AND status = 'offloaded'", volume)?.n ?? 0n);
  if (n === 0) return undefined;
  return `the database has never been backed up and maps ${n} offloaded file${n === 1 ? "" : "s"} of ${volume}: run \`hoard db backup\` (catalogs at the destinations also let \`hoard recover\` rebuild it)`;
}
