// restore --missing: a file deleted locally (by hand, or by a crash between unlink and row flip)
// comes back from a destination holding evidence for it; without the flag it is left alone.

import { afterEach, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { fsWorld, type World } from "../helpers.ts";

let w: World | undefined;
afterEach(() => w?.cleanup());

test("a file lost locally is restored only with --missing, from the destination's verified copy", () => {
  w = fsWorld({ files: { "keep.txt": "keep\n", "lost.txt": "precious\n" } });
  expect(w.hoard("index", "photos").code).toBe(0);
  expect(w.hoard("sync", "photos").code).toBe(0);
  rmSync(w.path("vol/lost.txt"));
  const idx = w.hoard("index", "photos", "--json");
  expect(idx.json.counts.missing).toBe(1);

  const plain = w.hoard("restore", "photos", "--json");
  expect(plain.code).toBe(0);
  expect(plain.json.counts.restored).toBe(0);
  expect(existsSync(w.path("vol/lost.txt"))).toBe(false);

  const r = w.hoard("restore", "photos", "--missing", "--json");
  expect(r.code).toBe(0);
  expect(r.json.restored.map((x: any) => x.path)).toEqual(["lost.txt"]);
  expect(readFileSync(w.path("vol/lost.txt"), "utf8")).toBe("precious\n");
  const again = w.hoard("index", "photos", "--json");
  expect(again.json.counts.missing).toBe(0);
  expect(again.json.counts.unchanged).toBe(2);
});

test("bad selectors are usage errors before any run row is written", () => {
  w = fsWorld();
  expect(w.hoard("index", "photos").code).toBe(0);
  const before = w.hoard("runs", "--json").json.runs.length;
  expect(w.hoard("offload", "photos", "../etc").code).toBe(2);
  expect(w.hoard("restore", "photos", "/abs").code).toBe(2);
  expect(w.hoard("runs", "--json").json.runs.length).toBe(before);
});
