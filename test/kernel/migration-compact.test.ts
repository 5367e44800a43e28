// Migration 6 (digest as 32 bytes, dest_objects WITHOUT ROWID) on a v5 DB with rows: every row kept
// exactly, the aggregates still equal a full recount before and after later changes, every trigger still
// there and working, a digest still kept to one content row, and a DB with a malformed digest left at v5.

import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { openDb, SCHEMA_VERSION, type Db } from "../../src/kernel/db.ts";
import { MIGRATIONS } from "../../src/kernel/migrations.ts";
import { fileClasses, objectClasses, recountFileClasses, recountObjectClasses } from "../../src/kernel/aggregates.ts";
import { ensureContent, setFileStatus } from "../../src/kernel/files.ts";
import { tempDir } from "../helpers.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const hex = (i: number) => (i * 2654435761).toString(16).padStart(8, "0").repeat(8).slice(0, 64);

/** A DB at schema v5 filled with rows through plain SQL (the v5 triggers keep its aggregates). */
function v5Db(opts: { badDigest?: boolean } = {}): string {
  const dir = tempDir("hoard-mig6-");
  dirs.push(dir);
  const path = join(dir, "h.db");
  const raw = new Database(path, { create: true, strict: true, safeIntegers: true });
  raw.exec("PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON");
  raw.exec("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT");
  for (let i = 0; i < 5; i++) raw.transaction(() => (raw.exec(MIGRATIONS[i]!), raw.exec(`INSERT INTO schema_version VALUES (${i + 1}, 1)`)))();
  raw.transaction(() => {
    for (let r = 1; r <= 4; r++) raw.run("INSERT INTO runs(id, kind, node, pid, started_at) VALUES (?, 'index', 'n1', 1, 0)", [r]);
    for (const v of ["v", "w"]) raw.run("INSERT INTO volumes(name, path, created_at, updated_at) VALUES (?, ?, 0, 0)", [v, `/${v}`]);
    for (const d of ["a", "b"]) raw.run("INSERT INTO destinations(name, type, identity, epoch, initialized_at, updated_at) VALUES (?, 'fs', ?, 1, 0, 0)", [d, `id-${d}`]);
    for (let i = 1; i <= 60; i++) {
      const digest = opts.badDigest && i === 30 ? "not-a-digest" : hex(i);
      raw.run("INSERT INTO content(blake3, size, origin_node, origin_run, created_at) VALUES (?, ?, ?, ?, ?)", [digest, i * 10, i % 3 ? "n1" : "n2", 1 + (i % 4), 1_700_000_000_000_000_000n + BigInt(i)]);
      const vol = i % 2 ? "v" : "w";
      const status = ["present", "offloaded", "missing", "superseded"][i % 4]!;
      raw.run(
        "INSERT INTO files(volume, path, content_id, status, size, mtime_ns, ino, first_seen_run, last_seen_run, status_changed_run) VALUES (?, ?, ?, ?, ?, ?, ?, 1, 2, ?)",
        [vol, `dir${i % 5}/f${i}`, i, status, i * 10, BigInt(i) * 1_000_000_007n, i % 7 ? i : null, 1 + (i % 3)],
      );
      for (const d of ["a", "b", "gone"])
        if ((i + d.length) % 3)
          raw.run(
            "INSERT INTO dest_objects(destination, volume, path, content_id, epoch, ok, method, reason, run, checked_at, checked_run) VALUES (?, ?, ?, ?, 1, ?, ?, ?, 2, ?, ?)",
            [d, vol, `dir${i % 5}/f${i}`, i, i % 5 ? 1 : 0, i % 6 ? "blake3" : null, i % 5 ? null : "differs", i % 4 ? 1_700_000_000_000_000_000n + BigInt(i) : null, i % 4 ? 2 : null],
          );
      raw.run("INSERT INTO content_digests(content_id, algo, digest) VALUES (?, 'md5', ?)", [i, `md5-${i}`]);
    }
  })();
  raw.close();
  return path;
}

const TABLES = ["content", "files", "dest_objects", "content_digests", "file_classes", "object_classes", "runs", "volumes", "destinations"];
function rows(path: string): Record<string, unknown[]> {
  const raw = new Database(path, { readonly: true, strict: true, safeIntegers: true });
  try {
    const cols = (t: string) => (t === "content" ? "id, blake3, size, origin_node, origin_run, created_at" : "*");
    return Object.fromEntries(TABLES.map((t) => [t, raw.query(`SELECT ${cols(t)} FROM ${t} ORDER BY 1, 2, 3`).all()]));
  } finally {
    raw.close();
  }
}
function expectAggregatesTrue(db: Db) {
  for (const v of ["v", "w"]) {
    expect(fileClasses(db, v)).toEqual(recountFileClasses(db, v));
    for (const d of ["a", "b"]) expect(objectClasses(db, v, d)).toEqual(recountObjectClasses(db, v, d));
  }
}
const triggers = (db: Db) => db.all<{ name: string; sql: string }>("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name");

describe.concurrent("migration 6", () => {
  test("carries every row exactly; aggregates, triggers and foreign keys hold", () => {
    const path = v5Db();
    const before = rows(path);
    const raw = new Database(path, { readonly: true });
    const triggersBefore = raw.query("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name").all() as { name: string; sql: string }[];
    raw.close();
    const db = openDb(path);
    try {
      expect(Number(db.get<{ v: bigint }>("SELECT max(version) AS v FROM schema_version")!.v)).toBe(SCHEMA_VERSION);
      expect(rows(path)).toEqual(before);
      expect(before.content!.length).toBe(60);
      expect(before.dest_objects!.length).toBeGreaterThan(60);
      expect(db.get<{ n: bigint }>("SELECT count(*) AS n FROM content WHERE length(hash) = 32 AND blake3 = lower(hex(hash))")!.n).toBe(60n);
      // the same triggers with the same text, plus the one keeping a digest to one row
      expect(triggers(db).filter((t) => t.name !== "content_hash_once")).toEqual(triggersBefore);
      expect(db.all("PRAGMA foreign_key_check")).toEqual([]);
      expect(Number(db.get<{ foreign_keys: bigint }>("PRAGMA foreign_keys")!.foreign_keys)).toBe(1);
      expect(db.get<{ sql: string }>("SELECT sql FROM sqlite_master WHERE name = 'dest_objects'")!.sql).toMatch(/WITHOUT ROWID$/);
      expectAggregatesTrue(db);
      // the triggers keep working on the rebuilt tables
      db.tx(() => {
        db.run("UPDATE dest_objects SET ok = 1 - ok WHERE destination = 'a' AND content_id IN (SELECT content_id FROM dest_objects WHERE destination = 'a' ORDER BY 1 LIMIT 5)");
        db.run("DELETE FROM dest_objects WHERE destination = 'b' AND content_id % 4 = 1");
        db.run("INSERT INTO dest_objects(destination, volume, path, content_id, epoch, ok, method, run) SELECT 'b', volume, path, content_id, 1, 1, 'blake3', 3 FROM files WHERE id % 4 = 1");
        setFileStatus(db, 3n, "missing", "present", 4n);
        db.run("DELETE FROM files WHERE id = 6");
      });
      expectAggregatesTrue(db);
      expect(() => db.run("UPDATE content SET size = 1 WHERE id = 1")).toThrow(/append-only/);
      expect(() => db.run("DELETE FROM content WHERE id = 1")).toThrow(/append-only/);
      // a digest is still one content row: ensureContent finds it, a plain second insert is skipped
      expect(db.tx(() => ensureContent(db, hex(7), 70, "n1", 1n))).toEqual({ id: 7n, isNew: false });
      expect(db.run("INSERT INTO content(hash, size, origin_node, origin_run, created_at) VALUES (unhex(?), 1, 'n1', 1, 0)", hex(8)).changes).toBe(0);
      const fresh = db.tx(() => ensureContent(db, "ab".repeat(32), 5, "n1", 1n));
      expect(fresh.isNew).toBe(true);
      expect(db.get<{ blake3: string }>("SELECT blake3 FROM content WHERE id = ?", fresh.id)!.blake3).toBe("ab".repeat(32));
      expect(db.get<{ n: bigint }>("SELECT count(*) AS n FROM content")!.n).toBe(61n);
      expect(() => db.run("INSERT INTO content(hash, size, origin_node, origin_run, created_at) VALUES (x'00', 1, 'n1', 1, 0)")).toThrow(/CHECK/);
    } finally {
      db.close();
    }
  });

  test("a DB with a malformed digest is refused and left at v5 (its rows untouched)", () => {
    const path = v5Db({ badDigest: true });
    const before = rows(path);
    expect(() => openDb(path)).toThrow(/NOT NULL/);
    const raw = new Database(path, { readonly: true });
    try {
      expect((raw.query("SELECT max(version) AS v FROM schema_version").get() as { v: number }).v).toBe(5);
    } finally {
      raw.close();
    }
    expect(rows(path)).toEqual(before);
  });
});
