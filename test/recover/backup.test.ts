// `hoard db backup [FILE]` through the CLI: a complete private copy (what is still in the WAL
// included) that opens as a working database, never overwriting a file, recorded in the database;
// and the sync reminder while offloaded files are mapped by a database that was never backed up.

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { Database } from "bun:sqlite";
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import { rows } from "../e2e/lib.ts";
import { cleanupWorlds, recWorld, syncedWorld } from "./lib.ts";

setDefaultTimeout(600_000);
afterAll(cleanupWorlds);

const count = (file: string, sql: string) => {
  const d = new Database(file, { readonly: true });
  try {
    return (d.query(sql).get() as { n: number }).n;
  } finally {
    d.close();
  }
};

test.concurrent("db backup: default name beside the database, 0600, complete, a working database when put back; never overwrites", async () => {
  const w = await syncedWorld("fs");
  const r = await w.run(0, "db", "backup", "--json");
  const file: string = r.json.file;
  expect(dirname(file)).toBe(dirname(w.db));
  expect(basename(file)).toMatch(/^hoard\.db\.backup-\d{8}T\d{6}Z$/);
  expect(r.json.bytes).toBe(statSync(file).size);
  expect(statSync(file).mode & 0o777).toBe(0o600);
  expect(count(file, "SELECT count(*) AS n FROM files")).toBe(3);
  expect(count(file, "SELECT count(*) AS n FROM evidence")).toBe(1);
  expect(readdirSync(dirname(file)).filter((n) => n.includes(".tmp-"))).toEqual([]); // no temp left
  const at = rows(w, "SELECT value FROM meta WHERE key = 'db_backup:last_at'")[0]!.value;
  expect(BigInt(at)).toBeGreaterThan(0n);

  // an explicit existing file is refused and left as it was
  writeFileSync(w.path("taken.db"), "mine\n");
  const taken = await w.run(3, "db", "backup", w.path("taken.db"), "--json");
  expect(taken.json.error.code).toBe("backup_exists");
  expect(readFileSync(w.path("taken.db"), "utf8")).toBe("mine\n");

  // the copy is a working database: lose the original, put the copy back, carry on
  await w.run(0, "offload", "photos", ".");
  w.loseDb();
  copyFileSync(file, w.db);
  const st = await w.run(0, "status", "--json");
  expect(st.json.volumes[0].files.present.files).toBe(3); // as it was when backed up
  expect(existsSync(w.path("vol/a.txt"))).toBe(false);
});

test.concurrent("db backup of a database being written: the copy holds what the WAL holds", async () => {
  const w = await syncedWorld("fs");
  // keep a writer connection open so the WAL is not checkpointed into the main file
  const d = new Database(w.db);
  try {
    d.exec("PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;");
    d.run("INSERT INTO meta(key, value) VALUES ('test:in-wal', 'yes')");
    expect(statSync(`${w.db}-wal`).size).toBeGreaterThan(0);
    const r = await w.run(0, "db", "backup", w.path("b.db"), "--json");
    expect(r.json.file).toBe(w.path("b.db"));
    const b = new Database(w.path("b.db"), { readonly: true });
    try {
      expect(b.query("SELECT value FROM meta WHERE key = 'test:in-wal'").get()).toEqual({ value: "yes" });
    } finally {
      b.close();
    }
  } finally {
    d.close();
  }
});

test.concurrent("sync reminds to back up the database while it maps offloaded files, until a backup", async () => {
  const w = await syncedWorld("fs");
  const before = await w.run(0, "sync", "photos", "--json");
  expect(before.json.results[0].warnings.filter((x: string) => x.includes("db backup"))).toEqual([]); // nothing offloaded yet
  await w.run(0, "offload", "photos", "a.txt");
  const s = await w.run(0, "sync", "photos", "--json");
  expect(s.json.results[0].warnings).toContainEqual(expect.stringContaining("never been backed up"));
  expect(s.stdout).toContain("hoard db backup");
  const h = await w.run(0, "sync", "photos");
  expect(h.stdout).toContain("hoard db backup");
  await w.run(0, "db", "backup");
  const after = await w.run(0, "sync", "photos", "--json");
  expect(after.json.results[0].warnings.filter((x: string) => x.includes("db backup"))).toEqual([]);
});

test.concurrent("db backup without a database is refused like every command (the database is missing)", async () => {
  const w = recWorld("fs");
  await w.run(0, "volume", "add", "photos", w.volPath);
  w.loseDb();
  expect((await w.run(3, "db", "backup", "--json")).json.error.code).toBe("db_missing");
});
