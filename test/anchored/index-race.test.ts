// Issue 12, "a path is not a file", for index: a helper process swaps a directory inside the volume with a
// symlink to an outside directory (renameat2 RENAME_EXCHANGE, back to back) while `hoard index` walks and
// hashes. Nothing outside the volume may ever be recorded: not its names, not its bytes.

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, symlinkSync } from "node:fs";
import { hashBytes } from "../../src/kernel/hash.ts";
import { startSwapper } from "./swap.ts";
import { asyncFsWorld, cleanupWorlds, rows } from "../e2e/lib.ts";

setDefaultTimeout(240_000);
afterAll(cleanupWorlds);

const N = 300;
const names = Array.from({ length: N }, (_, i) => `f${String(i).padStart(3, "0")}.txt`);

test("a parent swapped with a symlink to an outside directory while index runs: no outside name or content is ever recorded", async () => {
  const files: Record<string, string> = { "top.txt": "top\n" };
  for (const n of names) files[`dir/${n}`] = `inside ${n}\n`;
  const w = await asyncFsWorld({ files });
  // outside: the same names with other bytes, plus names the volume never had
  mkdirSync(w.path("outside"));
  const outside = new Set<string>();
  for (const n of [...names, ...names.map((n) => `only-outside-${n}`)]) {
    const c = `OUTSIDE ${n}\n`;
    w.write(`outside/${n}`, c);
    outside.add(hashBytes(new TextEncoder().encode(c)));
  }
  symlinkSync(w.path("outside"), w.path("vol/link"));

  const swapper = await startSwapper(w.path("vol/dir"), w.path("vol/link"), 2000, [0, 0]);
  const codes: number[] = [];
  const until = Date.now() + 2500;
  while (Date.now() < until || codes.length < 3) codes.push((await w.hoardAsync("index", "photos", "--json")).code);
  const swaps = await swapper.stop();
  expect(swaps).toBeGreaterThan(1000); // the race really ran while index did
  for (const c of codes) expect([0, 4]).toContain(c); // a partial walk is fine; a crash is not

  const recorded = rows<{ path: string; blake3: string }>(w, "SELECT f.path AS path, c.blake3 AS blake3 FROM files f JOIN content c ON c.id = f.content_id WHERE f.volume = 'photos'");
  expect(recorded.length).toBeGreaterThan(0);
  // (the real directory is named link/ half the time: recording it there is right; its bytes are the volume's)
  const leaked = recorded.filter((r) => outside.has(r.blake3) || r.path.includes("only-outside-"));
  expect(leaked).toEqual([]);
  // and every recorded content is one the volume really has
  const inside = new Set(Object.values(files).map((c) => hashBytes(new TextEncoder().encode(c))));
  for (const r of recorded) expect(inside.has(r.blake3)).toBe(true);
});
