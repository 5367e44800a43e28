// The database adapter: one private SQLite file (WAL, foreign keys, busy timeout), typed query
// helpers, BEGIN IMMEDIATE transactions, and numbered migrations (each after a copy of the DB).

import { chmodSync, closeSync, existsSync, fchmodSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { openSqlite, nowNs, type RawDatabase, type SqlValue } from "./runtime.ts";
import { MIGRATIONS } from "./migrations.ts";
import { failure, HoardError } from "./errors.ts";

export type Row = Record<string, unknown>;

export class Db {
  readonly path: string;
  private raw: RawDatabase;
  private depth = 0;

  constructor(path: string, raw: RawDatabase) {
    this.path = path;
    this.raw = raw;
  }

  all<T = Row>(sql: string, ...params: SqlValue[]): T[] {
    return this.raw.prepare(sql).all(...params) as T[];
  }
  get<T = Row>(sql: string, ...params: SqlValue[]): T | undefined {
    return this.raw.prepare(sql).get(...params) as T | undefined;
  }
  /** A cursor over the rows (no other use of the same SQL text until it is drained or dropped). */
  iterate<T = Row>(sql: string, ...params: SqlValue[]): IterableIterator<T> {
    return this.raw.prepare(sql).iterate(...params) as IterableIterator<T>;
  }
  run(sql: string, ...params: SqlValue[]): { changes: number; lastInsertRowid: bigint } {
    return this.raw.prepare(sql).run(...params);
  }
  exec(sql: string): void {
    this.raw.exec(sql);
  }

  /** Run fn inside BEGIN IMMEDIATE … COMMIT (a savepoint when nested). fn must be synchronous. */
  tx<T>(fn: () => T): T {
    const nested = this.depth > 0;
    const sp = `sp${this.depth}`;
    this.raw.exec(nested ? `SAVEPOINT ${sp}` : "BEGIN IMMEDIATE");
    this.depth++;
    try {
      const out = fn();
      if (out instanceof Promise) throw new Error("Db.tx: the transaction body must be synchronous");
      this.depth--;
      this.raw.exec(nested ? `RELEASE ${sp}` : "COMMIT");
      return out;
    } catch (e) {
      this.depth--;
      try {
        this.raw.exec(nested ? `ROLLBACK TO ${sp}; RELEASE ${sp}` : "ROLLBACK");
      } catch {
        /* the original error matters more */
      }
      throw e;
    }
  }

  close(): void {
    this.raw.close();
  }
}

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Private modes of everything hoard creates (set explicitly: the umask never widens or narrows them). */
export const PRIVATE_FILE = 0o600;
export const PRIVATE_DIR = 0o700;

/** mkdir -p where every directory this call creates is 0700; existing ones are left as they are. */
export function mkdirPrivate(dir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d); d = dirname(d)) {
    missing.push(d);
    if (dirname(d) === d) break;
  }
  if (missing.length === 0) return;
  mkdirSync(resolve(dir), { recursive: true, mode: PRIVATE_DIR });
  for (const d of missing.reverse()) chmodSync(d, PRIVATE_DIR);
}

/** Create a new empty file with mode 0600 (fails if it exists). */
export function createPrivateFile(path: string): void {
  const fd = openSync(path, "wx", PRIVATE_FILE);
  try {
    fchmodSync(fd, PRIVATE_FILE);
  } finally {
    closeSync(fd);
  }
}

/** Make the DB's -wal and -shm files private too (SQLite copies the main file's mode; this makes sure). */
function privateSidecars(path: string): void {
  for (const f of [`${path}-wal`, `${path}-shm`]) {
    try {
      if ((statSync(f).mode & 0o077) !== 0) chmodSync(f, PRIVATE_FILE);
    } catch {
      /* absent, or not ours to change */
    }
  }
}

/**
 * Whether an existing DB file holds no hoard data (zero bytes, or only the schema, its version
 * rows and the instance id): `hoard init` may adopt such a file. Reads only.
 */
export function dbIsEmpty(path: string): boolean {
  if (statSync(path).size === 0) return true;
  let raw: RawDatabase;
  try {
    raw = openSqlite(path);
  } catch {
    return false;
  }
  try {
    const tables = raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all() as { name: string }[];
    for (const { name } of tables) {
      if (name === "schema_version" || name === "meta") continue;
      if (raw.prepare(`SELECT 1 AS x FROM "${name.replace(/"/g, '""')}" LIMIT 1`).get() !== undefined) return false;
    }
    return true;
  } catch {
    return false; // not a database hoard can read: never adopt it
  } finally {
    raw.close();
  }
}

/** Open (creating if needed) and migrate the DB. A DB from a newer hoard is refused. A new DB file and the directories made for it are private. */
export function openDb(path: string, opts: { create?: boolean } = {}): Db {
  if (opts.create !== false && !existsSync(path)) {
    mkdirPrivate(dirname(path));
    try {
      createPrivateFile(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException)?.code !== "EEXIST") throw failure("db_open", `cannot create database ${path}: ${(e as Error).message}`, "check the path and its permissions (--db or $HOARD_DB)");
    }
  }
  let raw: RawDatabase;
  try {
    raw = openSqlite(path);
  } catch (e) {
    throw failure("db_open", `cannot open database ${path}: ${(e as Error).message}`, "check the path and its permissions (--db or $HOARD_DB)");
  }
  const db = new Db(path, raw);
  db.exec("PRAGMA busy_timeout = 10000");
  // refuse a DB from a newer hoard before anything writes to it (switching to WAL rewrites its header)
  if (db.get("SELECT 1 AS x FROM sqlite_master WHERE name = 'schema_version'") && currentVersion(db) > SCHEMA_VERSION) migrate(db);
  db.exec("PRAGMA journal_mode = WAL");
  db.exec("PRAGMA foreign_keys = ON");
  db.exec("PRAGMA synchronous = NORMAL");
  if ((statSync(path).mode & 0o077) === 0) privateSidecars(path);
  migrate(db);
  return db;
}

function currentVersion(db: Db): number {
  db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT");
  const r = db.get<{ v: bigint | null }>("SELECT max(version) AS v FROM schema_version");
  return r?.v == null ? 0 : Number(r.v);
}

export function migrate(db: Db): void {
  let v = currentVersion(db);
  if (v > SCHEMA_VERSION) {
    db.close();
    throw new HoardError("failure", "db_too_new", `database ${db.path} has schema version ${v}, newer than this hoard understands (${SCHEMA_VERSION})`, {
      hint: "upgrade hoard; nothing was changed",
    });
  }
  // a DB that already held a schema (not a brand-new one) is copied before each migration
  const existing = v > 0 || db.get("SELECT 1 AS x FROM sqlite_master WHERE tbl_name <> 'schema_version' AND name NOT LIKE 'sqlite_%' LIMIT 1") !== undefined;
  if (v >= SCHEMA_VERSION) return;
  // a migration may rebuild a table others reference (drop, then rename the new one in its place): foreign
  // keys are not enforced statement by statement meanwhile (the pragma is a no-op inside a transaction),
  // and every reference is checked before the migration commits
  const fk = db.get<{ foreign_keys: bigint | number }>("PRAGMA foreign_keys")?.foreign_keys;
  db.exec("PRAGMA foreign_keys = OFF");
  try {
    while (v < SCHEMA_VERSION) {
      const next = v + 1;
      if (existing) backupBeforeMigration(db, next);
      db.tx(() => {
        // re-check inside the write lock: another process may have migrated meanwhile
        if (currentVersion(db) >= next) return;
        db.exec(MIGRATIONS[next - 1]!);
        const broken = db.all("PRAGMA foreign_key_check");
        if (broken.length > 0) throw new Error(`migration ${next} left ${broken.length} broken foreign key reference(s)`);
        db.run("INSERT INTO schema_version(version, applied_at) VALUES (?, ?)", next, nowNs());
      });
      v = currentVersion(db);
    }
  } finally {
    if (Number(fk) === 1) db.exec("PRAGMA foreign_keys = ON");
  }
}

/** The path of the copy kept before migrating to version `next`: PATH.pre-vN (PATH.pre-vN.K when taken). */
export function preMigrationPath(path: string, next: number): string {
  const base = `${path}.pre-v${next}`;
  if (!existsSync(base)) return base;
  for (let k = 1; ; k++) if (!existsSync(`${base}.${k}`)) return `${base}.${k}`;
}

/** A consistent copy (VACUUM INTO: includes what is still in the WAL) of the DB, private, before a migration. */
function backupBeforeMigration(db: Db, next: number): void {
  const target = preMigrationPath(db.path, next);
  try {
    createPrivateFile(target);
    db.run("VACUUM INTO ?", target);
  } catch (e) {
    throw failure("db_backup", `cannot copy database ${db.path} to ${target} before migrating it to schema version ${next}: ${(e as Error).message}`, "free space or fix permissions beside the database; nothing was migrated");
  }
}

/** PRAGMA integrity_check and foreign_key_check; returns the problems found (empty = healthy). */
export function checkDb(db: Db): string[] {
  let rows: { integrity_check: string }[];
  try {
    rows = db.all<{ integrity_check: string }>("PRAGMA integrity_check");
  } catch (e) {
    return [`integrity_check could not complete: ${(e as Error).message}`]; // badly corrupted: SQLite aborts the check itself
  }
  const problems = rows.map((r) => String(r.integrity_check)).filter((s) => s !== "ok");
  for (const fk of db.all<Row>("PRAGMA foreign_key_check")) problems.push(`foreign key violation: ${JSON.stringify(fk, (_, x) => (typeof x === "bigint" ? String(x) : x))}`);
  return problems;
}
