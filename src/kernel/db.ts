// The database adapter: one SQLite file (WAL, foreign keys, busy timeout), typed query helpers,
// BEGIN IMMEDIATE transactions, and numbered migrations recorded in schema_version.

import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { openSqlite, nowNs, type RawDatabase, type SqlValue } from "./runtime.ts";
import { MIGRATIONS } from "./schema.ts";
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

/** Open (creating if needed) and migrate the DB. A DB from a newer hoard is refused. */
export function openDb(path: string, opts: { create?: boolean } = {}): Db {
  if (opts.create !== false) mkdirSync(dirname(path), { recursive: true });
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
  while (v < SCHEMA_VERSION) {
    const next = v + 1;
    db.tx(() => {
      // re-check inside the write lock: another process may have migrated meanwhile
      if (currentVersion(db) >= next) return;
      db.exec(MIGRATIONS[next - 1]!);
      db.run("INSERT INTO schema_version(version, applied_at) VALUES (?, ?)", next, nowNs());
    });
    v = currentVersion(db);
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
