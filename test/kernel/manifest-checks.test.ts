// The sync's one-cursor read (the manifest with each entry's object record, kept in aligned columns)
// against the two reads it replaces (manifestRows, objectChecks by key), on real SQLite with random rows.

import { afterAll, expect, test } from "bun:test";
import fc from "fast-check";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openApp } from "../../src/cli/app.ts";
import { manifestRows } from "../../src/kernel/files.ts";
import { objectChecks, objectKey } from "../../src/kernel/objects.ts";
import { AlignedChecks, manifestWithChecks } from "../../src/kernel/manifest-checks.ts";
import { tempDir } from "../helpers.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

test("manifestWithChecks gives manifestRows' entries and objectChecks' records, aligned", async () => {
  const dir = tempDir("hoard-mchecks-");
  dirs.push(dir);
  writeFileSync(join(dir, "config.toml"), `node = "n1"\n[volumes.v]\npath = ${JSON.stringify(join(dir, "v"))}\nsync_to = ["a"]\n[destinations.a]\ntype = "fs"\npath = ${JSON.stringify(join(dir, "a"))}\n`);
  mkdirSync(join(dir, "data"));
  const app = await openApp({ config: join(dir, "config.toml"), db: join(dir, "data", "hoard.db") }, [], { mayCreateDb: () => true });
  const db = app.ctx.db;
  let round = 0;
  try {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 5 }), fc.constantFrom("present", "offloaded", "missing", "superseded"), fc.option(fc.tuple(fc.constantFrom("a", "b"), fc.boolean(), fc.constantFrom("blake3", "size", null), fc.option(fc.bigInt({ min: 1n, max: 1n << 62n })), fc.integer({ min: 1, max: 3 }), fc.boolean()))), { maxLength: 80 }), (rows) => {
        round++;
        const v = `v${round}`; // a fresh volume and fresh contents each round (content is append-only)
        db.tx(() => {
          if (round === 1) for (let r = 1; r <= 3; r++) db.run("INSERT INTO runs(id, kind, node, pid, started_at) VALUES (?, 'index', 'n1', 1, 0)", r);
          db.run("INSERT INTO volumes(name, path, created_at, updated_at) VALUES (?, ?, 0, 0)", v, `/${v}`);
          const ids: bigint[] = [];
          for (let c = 0; c < 6; c++) ids.push(db.run("INSERT INTO content(hash, size, origin_node, origin_run, created_at) VALUES (?, 1, ?, ?, 0)", Buffer.from(`h${round}-${c}`.padEnd(32, ".")), c % 2 ? "n1" : "n2", 1 + (c % 3)).lastInsertRowid);
          const live = new Set<number>();
          for (const [p, c, status, obj] of rows) {
            if (status !== "superseded" && live.has(p)) continue;
            if (status !== "superseded") live.add(p);
            db.run("INSERT INTO files(volume, path, content_id, status, size, mtime_ns, ino, first_seen_run, last_seen_run, status_changed_run) VALUES (?, ?, ?, ?, ?, 7, NULL, 1, 1, ?)", v, `d${p % 4}/p${p}`, ids[c]!, status, p, 1 + (p % 3));
            if (obj) {
              const [dest, ok, method, at, epoch, sameContent] = obj;
              db.run(
                "INSERT OR REPLACE INTO dest_objects(destination, volume, path, content_id, epoch, ok, method, reason, run, checked_at, checked_run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
                dest, v, `d${p % 4}/p${p}`, ids[sameContent ? c : (c + 1) % 6]!, epoch, ok ? 1 : 0, method, ok ? null : `bad ${p}`, at, at === null ? null : 2,
              );
            }
          }
        });
        const changed: bigint[] = [];
        const want = manifestRows(db, v, changed);
        const records = objectChecks(db, "a", v);
        const got = manifestWithChecks(db, "a", v);
        expect(got.manifest).toEqual(want.map((e) => ({ ...e, recheck: false })));
        expect(got.changedRuns).toEqual(changed);
        want.forEach((e, i) => {
          const r = records.get(objectKey(e.path, e.contentId));
          expect(got.checks.get(i)).toEqual(r && { epoch: r.epoch, ok: r.ok, method: r.method, reason: r.reason, checked_at: r.checked_at, checked_run: r.checked_run });
          for (const epoch of [1n, 2n]) expect(got.checks.goodCheckAt(i, epoch)).toBe(r && r.epoch === epoch && r.ok === 1n ? r.checked_at : null);
        });
      }),
      { numRuns: 60 },
    );
  } finally {
    app.close();
  }
});

test("AlignedChecks grows past its first columns and keeps entries without a record empty", () => {
  const c = new AlignedChecks();
  const n = 5000;
  for (let i = 0; i < n; i++) c.set(i, i % 3 ? { epoch: BigInt(i), ok: i % 2 ? 1n : 0n, method: i % 5 ? "blake3" : null, reason: i % 2 ? null : `r${i}`, checked_at: i % 7 ? BigInt(-i) : null, checked_run: i % 7 ? 9n : null } : undefined);
  for (let i = 0; i < n; i++) expect(c.get(i)).toEqual(i % 3 ? { epoch: BigInt(i), ok: i % 2 ? 1n : 0n, method: i % 5 ? "blake3" : null, reason: i % 2 ? null : `r${i}`, checked_at: i % 7 ? BigInt(-i) : null, checked_run: i % 7 ? 9n : null } : undefined);
  expect(c.get(n + 10)).toBeUndefined();
});
