// The index merges a path-ordered walk with the volume's rows read a page at a time: names whose order
// differs between JavaScript and SQLite, many pages and record batches, small files hashed in the walk
// (through the directory's handle) and large ones by the pool: every row agrees with the disk.

import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { lstatSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { blake3 } from "@noble/hashes/blake3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { World } from "../helpers.ts";
import { comparePaths, walk } from "../../src/ops/walk.ts";
import { Dir } from "../../src/kernel/anchored.ts";
import { hashFile, hashFileSync } from "../../src/kernel/hash.ts";
import { filesOf, quickWorld, Worlds } from "./util.ts";

const worlds = new Worlds();
afterAll(() => worlds.cleanup());
const ref = (s: string | Uint8Array) => bytesToHex(blake3(typeof s === "string" ? new TextEncoder().encode(s) : s));

// names around "/" (0x2f) and past U+FFFF, where UTF-16 order and UTF-8 byte order disagree
const NAMES = ["a", "a-b", "a.txt", "a0", "A", "z", "é", "\uE000", "\uFFEE", "😀", "😀x", "\u00a0", "sp ace"];

describe("path order", () => {
  test("comparePaths orders as SQLite's BINARY collation does", () => {
    const db = new Database(":memory:");
    db.run("CREATE TABLE t (p TEXT)");
    const all: string[] = [];
    for (const x of NAMES) for (const y of ["", ...NAMES]) all.push(y ? `${x}/${y}` : x);
    for (let i = 0; i < 300; i++) all.push(String.fromCodePoint(...Array.from({ length: 1 + (i % 4) }, (_, k) => [0x41, 0x2f, 0xe9, 0xe000, 0xfff0, 0x1f600, 0x10400][(i * 7 + k * 3) % 7]!)));
    const ins = db.prepare("INSERT INTO t VALUES (?)");
    for (const p of all) ins.run(p);
    const sqlite = (db.query("SELECT p FROM t ORDER BY p").all() as { p: string }[]).map((r) => r.p);
    expect([...all].sort(comparePaths)).toEqual(sqlite);
    db.close();
  });

  test("hashFileSync gives hashFile's result, one-read and streamed sizes alike", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hoard-hashsync-"));
    try {
      for (const n of [0, 1, 4096, 65536, 65537, 300_000, (1 << 20) + 3]) {
        const p = join(dir, `f${n}`);
        const data = randomBytes(n);
        writeFileSync(p, data);
        const s = hashFileSync(p);
        expect(s).toEqual(await hashFile(p));
        expect(s.blake3).toBe(ref(data));
        expect(s.changed).toBe(false);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the walk works inside each directory", () => {
  test("callbacks reach each file by the path given (the file the walk saw); the caller's directory is restored, also when a callback throws", () => {
    const dir = mkdtempSync(join(tmpdir(), "hoard-walkcwd-"));
    const home = process.cwd();
    try {
      for (const d of ["a", "a/b", "c"]) mkdirSync(join(dir, d), { recursive: true });
      for (const f of ["x", "a/y", "a/b/z", "c/x"]) writeFileSync(join(dir, f), f);
      const top = Dir.openRoot(dir);
      try {
        const seen: string[] = [];
        walk(top, (f, at) => {
          expect(lstatSync(at, { bigint: true }).ino).toBe(f.ino);
          expect(lstatSync(join(dir, f.rel), { bigint: true }).ino).toBe(f.ino);
          seen.push(f.rel);
        }, (p) => { throw new Error(p.message); });
        expect(seen).toEqual(["a/b/z", "a/y", "c/x", "x"]);
        expect(process.cwd()).toBe(home);
        expect(() => walk(top, (f) => { if (f.rel === "a/y") throw new Error("stop"); }, () => {})).toThrow("stop");
        expect(realpathSync(process.cwd())).toBe(realpathSync(home));
      } finally {
        top.close();
      }
    } finally {
      process.chdir(home);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("index over many pages and batches", () => {
  test("first index, re-index, shallow, then deletes, changes and additions on both sides of page edges", async () => {
    const files: Record<string, string | Uint8Array> = {};
    // directories beside files whose names sort around theirs ("a" beside "a-b", "a.txt", "a0")
    const DIRS = ["a", "é", "😀", "\uE000", "z", "sp ace", "a0"];
    for (const x of NAMES) {
      if (!DIRS.includes(x)) files[x] = `top ${x}\n`;
      else for (const y of NAMES) files[`${x}/${y}`] = `file ${x}/${y}\n`;
    }
    files["big/one.bin"] = randomBytes((1 << 20) + 17); // hashed by the pool, after the walk
    const w: World = worlds.track(quickWorld(files, { HOARD_INDEX_PAGE: "3", HOARD_INDEX_BATCH: "4" }));
    const idx = async (...flags: string[]) => {
      const r = await w.hoardAsync("index", "photos", "--json", ...flags);
      if (r.json === undefined) throw new Error(`no JSON from index: ${r.code} ${r.stderr}`);
      expect(r.json.counts.errors).toBe(0);
      return r.json.counts;
    };
    const agree = (expected: Record<string, string | Uint8Array>, missing: string[] = []) => {
      const live = filesOf(w.db).filter((f: any) => f.status !== "superseded");
      const got = Object.fromEntries(live.map((f: any) => [f.path, [f.status, f.status === "present" ? f.blake3 : null]]));
      const want = Object.fromEntries([...Object.entries(expected).map(([p, c]) => [p, ["present", ref(c)]]), ...missing.map((p) => [p, ["missing", null]])]);
      expect(got).toEqual(want);
    };
    const n = Object.keys(files).length;
    expect(await idx()).toMatchObject({ files: n, new: n, missing: 0 });
    agree(files);
    expect(await idx()).toMatchObject({ files: n, new: 0, unchanged: n, changed: 0, missing: 0 });
    expect(await idx("--shallow")).toMatchObject({ files: n, new: 0, unchanged: n, hashed_bytes: 0, missing: 0 });

    const now = { ...files };
    const gone = ["a-b", "a/a.txt", "😀/\uE000", "z/z", "sp ace/😀x", "a0/A"];
    for (const p of gone) {
      rmSync(w.path(`vol/${p}`));
      delete now[p];
    }
    for (const p of ["a.txt", "a/😀", "\uFFEE", "big/one.bin"]) {
      now[p] = `changed ${p}, longer than before\n`;
      writeFileSync(w.path(`vol/${p}`), now[p]!);
    }
    for (const p of ["a0/new", "a-c/a.tx", "😀/😀y", "zz", "a/new"]) {
      now[p] = `added ${p}\n`;
      w.write(`vol/${p}`, now[p]!);
    }
    expect(await idx("--shallow")).toMatchObject({ files: Object.keys(now).length, new: 5, changed: 4, missing: gone.length });
    agree(now, gone);
    expect(await idx()).toMatchObject({ files: Object.keys(now).length, new: 0, changed: 0, unchanged: Object.keys(now).length, missing: 0 });
    agree(now, gone);
  }, 180_000);
});
