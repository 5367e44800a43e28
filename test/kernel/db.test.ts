// The database: numbered migrations recorded in schema_version, idempotent re-open, a newer
// schema refused (and left untouched), `hoard db check` on healthy and corrupted files, and
// integers past 2^53 (run ids, nanosecond timestamps) round-tripping exactly.

import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { readFileSync, writeFileSync, openSync, writeSync, closeSync, statSync, existsSync } from "node:fs";
import { join } from "node:path";
import { openDb, SCHEMA_VERSION } from "../../src/kernel/db.ts";
import { MIGRATIONS } from "../../src/kernel/migrations.ts";
import { beginRun, finishRun, getRun } from "../../src/kernel/runs.ts";
import { HoardError } from "../../src/kernel/errors.ts";
import { tempDir, world, type World } from "../helpers.ts";
import { dumpDb, quickWorld, withDb, Worlds } from "./util.ts";

const worlds = new Worlds();
const cleanups: (() => void)[] = [];
afterAll(() => {
  worlds.cleanup();
  while (cleanups.length) cleanups.pop()!();
});
const w0 = (): World => worlds.track(world());
const T = 30_000;

describe.concurrent("migrations", () => {
  test("a fresh DB records every migration in schema_version, with WAL, foreign keys and STRICT tables", async () => {
    const dir = tempDir();
    cleanups.push(() => Bun.spawnSync(["rm", "-rf", dir]));
    const path = join(dir, "sub", "h.db");
    const db = openDb(path);
    const versions = db.all<{ version: bigint; applied_at: bigint }>("SELECT * FROM schema_version ORDER BY version");
    expect(versions.map((v) => Number(v.version))).toEqual(MIGRATIONS.map((_, i) => i + 1));
    expect(SCHEMA_VERSION).toBe(MIGRATIONS.length);
    for (const v of versions) expect(typeof v.applied_at).toBe("bigint");
    expect(db.get<{ journal_mode: string }>("PRAGMA journal_mode")!.journal_mode).toBe("wal");
    expect(Number(db.get<{ foreign_keys: bigint }>("PRAGMA foreign_keys")!.foreign_keys)).toBe(1);
    const tables = db.all<{ name: string; sql: string }>("SELECT name, sql FROM sqlite_master WHERE type = 'table'");
    for (const t of ["runs", "hook_runs", "content", "files", "volumes", "schema_version"]) {
      const row = tables.find((x) => x.name === t);
      expect(row, t).toBeDefined();
      expect(row!.sql.trim().endsWith("STRICT"), `${t} is STRICT`).toBe(true);
    }
    db.close();
  }, T);

  test("re-opening is idempotent: nothing re-applied, nothing changed", async () => {
    const dir = tempDir();
    cleanups.push(() => Bun.spawnSync(["rm", "-rf", dir]));
    const path = join(dir, "h.db");
    openDb(path).close();
    const before = dumpDb(path);
    for (let i = 0; i < 3; i++) openDb(path).close();
    expect(dumpDb(path)).toBe(before);
    // and through the CLI
    const w = w0();
    expect((await w.hoardAsync("init", "--node", "n1")).code).toBe(0);
    const once = dumpDb(w.db);
    expect((await w.hoardAsync("runs")).code).toBe(0);
    expect((await w.hoardAsync("db", "check")).code).toBe(0);
    expect(dumpDb(w.db)).toBe(once);
  }, T);
});

describe.concurrent("a DB from a newer hoard", () => {
  const mainBytes = (p: string) => readFileSync(p);

  test("is refused with a message saying to upgrade (exit 1), and left unchanged", async () => {
    const w = w0();
    expect((await w.hoardAsync("init", "--node", "n1")).code).toBe(0);
    withDb(w.db, (db) => db.query("INSERT INTO schema_version(version, applied_at) VALUES (?, ?)").run(SCHEMA_VERSION + 1, 1n));
    const bytes = mainBytes(w.db);
    const dump = dumpDb(w.db);
    for (const args of [["runs"], ["db", "check"], ["volumes"]]) {
      const r = await w.hoardAsync(...args);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/upgrade hoard/);
      expect(r.stderr).toContain(`schema version ${SCHEMA_VERSION + 1}`);
      expect(r.stdout).toBe("");
    }
    const j = await w.hoardAsync("runs", "--json");
    expect(j.code).toBe(1);
    expect(j.json.error.code).toBe("db_too_new");
    expect(j.json.error.hint).toMatch(/upgrade/);
    expect(mainBytes(w.db).equals(bytes)).toBe(true);
    expect(dumpDb(w.db)).toBe(dump);
    // the kernel API refuses too
    expect(() => openDb(w.db)).toThrow(HoardError);
    expect(mainBytes(w.db).equals(bytes)).toBe(true);
  }, T);

  test("a newer DB in rollback-journal mode is not converted to WAL before the refusal", async () => {
    const dir = tempDir();
    cleanups.push(() => Bun.spawnSync(["rm", "-rf", dir]));
    const path = join(dir, "future.db");
    const raw = new Database(path, { create: true });
    raw.exec("PRAGMA journal_mode = DELETE");
    raw.exec("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT");
    raw.exec(`INSERT INTO schema_version VALUES (${SCHEMA_VERSION + 5}, 1)`);
    raw.exec("CREATE TABLE future_thing (x TEXT) STRICT; INSERT INTO future_thing VALUES ('keep me')");
    raw.close();
    const bytes = readFileSync(path);
    let err: unknown;
    try {
      openDb(path).close();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HoardError);
    expect((err as HoardError).code).toBe("db_too_new");
    expect(readFileSync(path).equals(bytes)).toBe(true);
    expect(existsSync(path + "-wal")).toBe(false);
  }, T);
});

describe.concurrent("hoard db check", () => {
  test("ok on a fresh DB", async () => {
    const w = w0();
    expect((await w.hoardAsync("init", "--node", "n1")).code).toBe(0);
    const r = await w.hoardAsync("db", "check", "--json");
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ ok: true, problems: [], schema_version: SCHEMA_VERSION });
    const h = await w.hoardAsync("db", "check");
    expect(h.code).toBe(0);
    expect(h.stdout).toContain("ok");
  }, T);

  test("reports a corrupted DB (bytes overwritten in the middle) instead of saying ok", async () => {
    const w = worlds.track(quickWorld(Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`d${i % 7}/file-${i}.txt`, `content ${i} `.repeat(20)]))));
    expect((await w.hoardAsync("index", "photos")).code).toBe(0);
    expect((await w.hoardAsync("db", "check")).code).toBe(0);
    // every connection is closed, so the WAL is checkpointed into the main file
    const size = statSync(w.db).size;
    const pageSize = withDb(w.db, (db) => Number((db.query("PRAGMA page_size").get() as any).page_size));
    expect(size / pageSize).toBeGreaterThan(12);
    const pages = size / pageSize;
    const fd = openSync(w.db, "r+");
    const garbage = Buffer.alloc(pageSize * 3, 0xa5);
    for (let i = 0; i < garbage.length; i += 7) garbage[i] = i & 0xff;
    writeSync(fd, garbage, 0, garbage.length, Math.floor(pages / 2) * pageSize);
    closeSync(fd);
    const r = await w.hoardAsync("db", "check", "--json");
    expect(r.code).toBe(1);
    expect(r.json.ok).toBe(false);
    expect(r.json.problems.length).toBeGreaterThan(0);
    expect(r.json.problems.join("\n")).toMatch(/malformed|corrupt|page|btree|never used|wrong/i);
    const h = await w.hoardAsync("db", "check");
    expect(h.code).toBe(1);
    expect(h.stdout + h.stderr).not.toMatch(/: ok \(schema/);
  }, T);

  test("reports a foreign key violation", async () => {
    const w = worlds.track(quickWorld());
    expect((await w.hoardAsync("index", "photos")).code).toBe(0);
    withDb(w.db, (db) => {
      db.exec("PRAGMA foreign_keys = OFF");
      db.run("UPDATE files SET content_id = 999999 WHERE path = 'a.txt'");
    });
    const r = await w.hoardAsync("db", "check", "--json");
    expect(r.code).toBe(1);
    expect(r.json.ok).toBe(false);
    expect(r.json.problems.join("\n")).toMatch(/foreign key violation.*files/);
  }, T);
});

describe.concurrent("integers past 2^53", () => {
  const BIG_TS = 2n ** 62n + 12345n; // ns since the epoch, ~year 2116
  const BIG_ID = 2n ** 60n + 7n;

  test("run ids and nanosecond timestamps round-trip exactly through the kernel", async () => {
    const w = w0();
    expect((await w.hoardAsync("init", "--node", "n1")).code).toBe(0);
    const db = openDb(w.db);
    try {
      db.run("INSERT INTO runs(id, kind, volume, node, pid, started_at, finished_at, status) VALUES (?,?,?,?,?,?,?, 'success')", BIG_ID, "index", "photos", "n1", 1, BIG_TS, BIG_TS + 1n);
      const r = getRun(db, BIG_ID)!;
      expect(r.id).toBe(BIG_ID);
      expect(r.started_at).toBe(BIG_TS);
      expect(r.finished_at).toBe(BIG_TS + 1n);
      expect(Number(BIG_TS) === Number(BIG_TS + 1n)).toBe(true); // floats could not tell them apart
      // the next run id comes after it, exactly
      const next = beginRun(db, { kind: "index", volume: "other", node: "n1" });
      expect(next.id).toBe(BIG_ID + 1n);
      finishRun(db, next.id, "success");
      expect(getRun(db, BIG_ID + 1n)!.status).toBe("success");
    } finally {
      db.close();
    }
  }, T);

  test("`hoard runs show --json` prints the exact id and the timestamps as ISO strings with nanoseconds", async () => {
    const w = w0();
    expect((await w.hoardAsync("init", "--node", "n1")).code).toBe(0);
    withDb(w.db, (db) =>
      db.query("INSERT INTO runs(id, kind, volume, node, pid, started_at, finished_at, status) VALUES (?,?,?,?,?,?,?, 'success')").run(BIG_ID, "index", "photos", "n1", 1, BIG_TS, BIG_TS + 999_999_999n),
    );
    const r = await w.hoardAsync("runs", "show", String(BIG_ID), "--json");
    expect(r.code).toBe(0);
    expect(String(r.json.id)).toBe(String(BIG_ID));
    expect(r.stdout).toContain(String(BIG_ID)); // printed as an exact decimal, never as a rounded float
    // 2^62 + 12345 ns = 4611686018 s + 427400249 ns
    const secs = new Date(4611686018_000).toISOString().slice(0, 19);
    expect(r.json.started_at).toBe(`${secs}.427400249Z`);
    // + 999999999 ns = 4611686019 s + 427400248 ns
    expect(r.json.finished_at).toBe(`${new Date(4611686019_000).toISOString().slice(0, 19)}.427400248Z`);
    const list = await w.hoardAsync("runs", "--json");
    expect(list.code).toBe(0);
    expect(String(list.json.runs[0].id)).toBe(String(BIG_ID));
    expect(list.json.runs[0].started_at).toBe(`${secs}.427400249Z`);
  }, T);

  test("real runs record nanosecond timestamps (not milliseconds scaled up)", async () => {
    const w = worlds.track(quickWorld());
    for (let i = 0; i < 3; i++) expect((await w.hoardAsync("index", "photos")).code).toBe(0);
    const rows = withDb(w.db, (db) => db.query("SELECT started_at, finished_at FROM runs WHERE kind = 'index'").all() as any[]);
    expect(rows.length).toBe(3);
    // at least one timestamp has non-zero sub-millisecond digits
    expect(rows.some((r) => r.started_at % 1_000_000n !== 0n || r.finished_at % 1_000_000n !== 0n)).toBe(true);
    for (const r of rows) expect(r.finished_at).toBeGreaterThanOrEqual(r.started_at);
  }, T);
});
