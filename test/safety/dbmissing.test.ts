// The map survives the machine (invariant 11): a missing database is refused, never silently
// re-created, by every command but init (which adopts an empty file); each migration keeps a copy.

import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { fsWorld, world, type World } from "../helpers.ts";
import { MIGRATIONS } from "../../src/kernel/migrations.ts";
import { SCHEMA_VERSION } from "../../src/kernel/db.ts";

const made: World[] = [];
afterAll(() => {
  for (const w of made.splice(0)) w.cleanup();
});
const T = 120_000;
const MESSAGE = (db: string) => `database ${db} is missing: was it on an unmounted disk? restore it, or \`hoard recover\``;

describe.concurrent("a missing database", () => {
  test("is refused (exit 3) by every command but init, and nothing is created", async () => {
    const w = fsWorld();
    made.push(w);
    expect((await w.hoardAsync("index", "photos")).code).toBe(0);
    const dataDir = dirname(w.db);
    rmSync(dataDir, { recursive: true }); // the disk holding the DB is not mounted
    const before = readdirSync(w.dir).sort();
    for (const args of [["status"], ["index", "photos"], ["sync", "photos"], ["runs"], ["hooks"], ["volumes"], ["doctor"], ["db", "check"], ["volume", "add", "photos", w.path("vol")]]) {
      const r = await w.hoardAsync(...args);
      expect({ args, code: r.code }).toEqual({ args, code: 3 });
      expect(r.stderr).toContain(MESSAGE(w.db));
      const j = await w.hoardAsync(...args, "--json");
      expect(j.json.error.code).toBe("db_missing");
    }
    expect(existsSync(dataDir)).toBe(false);
    expect(readdirSync(w.dir).sort()).toEqual(before);
  }, T);

  test("a new volume beside an already-added one does not start a new DB either", async () => {
    const w = fsWorld({ destInit: false });
    made.push(w);
    rmSync(w.db);
    const cfg = w.read("config.toml");
    w.write("music/x.txt", "x\n");
    const r = await w.hoardAsync("volume", "add", "music", w.path("music"));
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(MESSAGE(w.db));
    expect(existsSync(w.db)).toBe(false);
    expect(existsSync(w.path("music/.hoard-volume"))).toBe(false);
    expect(w.read("config.toml")).toBe(cfg);
  }, T);

  test("init adopts an existing empty DB file, and still refuses one holding data", async () => {
    const w = world();
    made.push(w);
    writeFileSync(w.path("empty.db"), "");
    const r = await w.hoardAsync("--db", w.path("empty.db"), "init", "--node", "n1", "--json");
    expect(r.code).toBe(0);
    expect(r.json.db).toBe(w.path("empty.db"));
    expect(statSync(w.path("empty.db")).size).toBeGreaterThan(0);
    // the adopted DB now holds the schema only: a second init with another config adopts it again
    const again = await w.hoardAsync("--config", w.path("other.toml"), "--db", w.path("empty.db"), "init", "--node", "n1");
    expect(again.code).toBe(0);
    // one holding data is never adopted
    const full = fsWorld({ destInit: false });
    made.push(full);
    const refused = await w.hoardAsync("--config", w.path("third.toml"), "--db", full.db, "init", "--node", "n1", "--json");
    expect(refused.code).toBe(3);
    expect(refused.json.error.code).toBe("db_exists");
    expect(existsSync(w.path("third.toml"))).toBe(false);
  }, T);
});

describe.concurrent("migrations keep a copy", () => {
  test("a DB at an older schema version is copied to PATH.pre-vN (private) before migrating; a new DB is not", async () => {
    const w = world();
    made.push(w);
    w.setConfig(`node = "testnode"\n`);
    // a DB as the previous schema version left it, with data in it
    const from = SCHEMA_VERSION - 1;
    const raw = new Database(w.path("old.db"), { create: true });
    raw.exec("PRAGMA journal_mode = WAL");
    raw.exec("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT");
    for (let i = 0; i < from; i++) {
      raw.exec(MIGRATIONS[i]!);
      raw.exec(`INSERT INTO schema_version VALUES (${i + 1}, 1)`);
    }
    raw.exec("INSERT INTO volumes(name, path, created_at, updated_at) VALUES ('kept', '/somewhere', 1, 1)");
    raw.close();

    const r = await w.hoardAsync("--db", w.path("old.db"), "runs", "--json");
    expect(r.code).toBe(0);
    const copy = w.path(`old.db.pre-v${SCHEMA_VERSION}`);
    expect(existsSync(copy)).toBe(true);
    expect((statSync(copy).mode & 0o777).toString(8)).toBe("600");
    const c = new Database(copy, { readonly: true });
    try {
      expect((c.query("SELECT max(version) AS v FROM schema_version").get() as any).v).toBe(from);
      expect(c.query("SELECT name FROM volumes").all()).toEqual([{ name: "kept" }]);
    } finally {
      c.close();
    }
    const m = new Database(w.path("old.db"), { readonly: true });
    try {
      expect((m.query("SELECT max(version) AS v FROM schema_version").get() as any).v).toBe(SCHEMA_VERSION);
    } finally {
      m.close();
    }
    // opening again migrates nothing and copies nothing more
    expect((await w.hoardAsync("--db", w.path("old.db"), "runs")).code).toBe(0);
    expect(readdirSync(w.dir).filter((n) => n.includes(".pre-v"))).toEqual([`old.db.pre-v${SCHEMA_VERSION}`]);

    // a brand-new DB is created without any copy
    const fresh = world();
    made.push(fresh);
    expect((await fresh.hoardAsync("init", "--node", "n1")).code).toBe(0);
    expect(readdirSync(dirname(fresh.db)).filter((n) => n.includes(".pre-v"))).toEqual([]);
  }, T);
});
