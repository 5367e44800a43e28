// Issue 12, "a path is not a file": a helper process swaps a directory inside the volume with a symlink to an
// outside directory (renameat2 RENAME_EXCHANGE, tight loop) while `hoard offload` runs through the real CLI.

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { startSwapper } from "./swap.ts";
import { asyncFsWorld, code, liveStatus, cleanupWorlds } from "../e2e/lib.ts";

setDefaultTimeout(240_000);
afterAll(cleanupWorlds);

const N = 2000;
const names = Array.from({ length: N }, (_, i) => `f${String(i).padStart(4, "0")}.txt`);

// Measured against the old path-based unlink (lstat the parents, then unlink by path): with 2000 files it
// deleted 15 outside files in one run (and read others: inode_changed); through anchored handles, none.
test("a parent swapped back to back with a symlink to an outside directory during offload: nothing outside is touched, every offloaded row is really gone, restore brings all back", async () => {
  const files: Record<string, string> = { "top.txt": "top\n" };
  for (const n of names) files[`dir/${n}`] = `inside ${n}\n`;
  const w = await asyncFsWorld({ files });
  // whole-second mtimes, so the outside copies below carry exactly the indexed mtime
  for (const p of Object.keys(files)) utimesSync(w.path(`vol/${p}`), 1_600_000_000, 1_600_000_000);
  code(await w.hoardAsync("index", "photos"), 0);
  code(await w.hoardAsync("sync", "photos", "--to", "nas"), 0);
  // never-indexed files outside the volume with the same names, bytes and mtimes: only where they are
  // tells them apart, so no size, mtime or hash check can save a path-based delete
  mkdirSync(w.path("outside"));
  for (const n of names) {
    w.write(`outside/${n}`, files[`dir/${n}`]!);
    utimesSync(w.path(`outside/${n}`), 1_600_000_000, 1_600_000_000);
  }
  symlinkSync(w.path("outside"), w.path("vol/link"));

  const swapper = await startSwapper(w.path("vol/dir"), w.path("vol/link"), 2000, [0, 0]);
  const off = await w.hoardAsync("offload", "photos", ".", "--json");
  const swaps = await swapper.stop();
  expect(swaps).toBeGreaterThan(1000); // the race really ran while offload did
  if (off.code !== 0 && off.code !== 4) throw new Error(`offload exited ${off.code}: ${off.stderr}`);
  const json = off.json;

  // 1. zero files touched outside the volume
  const left = readdirSync(w.path("outside")).length;
  if (left !== N) console.error(`${N - left} files outside the volume were deleted`);
  expect(readdirSync(w.path("outside")).sort()).toEqual([...names].sort());
  for (const n of names) expect(readFileSync(w.path(`outside/${n}`), "utf8")).toBe(files[`dir/${n}`]!);

  // 2. every row flipped to offloaded is really gone from the volume; every other row's file is intact
  const status = liveStatus(w);
  const offloaded = Object.keys(status).filter((p) => status[p] === "offloaded");
  expect(offloaded.sort()).toEqual([...json.offloaded].sort());
  expect(offloaded.length).toBeGreaterThan(0);
  for (const [p, s] of Object.entries(status)) {
    if (s === "offloaded") expect(existsSync(w.path(`vol/${p}`))).toBe(false);
    else {
      expect(s).toBe("present");
      expect(readFileSync(w.path(`vol/${p}`), "utf8")).toBe(files[p]!);
    }
  }
  // files kept back were refused for the symlinked parent. A path-based check that resolved through the link
  // would also have looked at outside files (seen as another inode: inode_changed) or deleted them; through
  // anchored handles only the real directory or the link itself is ever seen
  for (const p of json.problems) expect(`${p.path}: ${p.code}`).toBe(`${p.path}: parent_not_dir`);
  // no private offload names left anywhere
  expect(readdirSync(w.path("vol/dir")).filter((n) => n.startsWith(".hoard-"))).toEqual([]);
  expect(readdirSync(w.path("outside")).filter((n) => n.startsWith(".hoard-"))).toEqual([]);

  // 3. restore brings everything back
  const r = code(await w.hoardAsync("restore", "photos", "--json"), 0);
  expect(r.json.counts.restored).toBe(offloaded.length);
  for (const [p, c] of Object.entries(files)) expect(readFileSync(w.path(`vol/${p}`), "utf8")).toBe(c);
  expect(Object.values(liveStatus(w)).every((s) => s === "present")).toBe(true);
});
