// Per-volume exclude patterns (issue 14, item 8): gitignore-style globs in [volumes.NAME] exclude = […]
// apply to index, so excluded files are never recorded, synced or offloaded; an excluded directory is
// not entered; a file indexed before it was excluded goes `missing` like a deleted one (offloaded rows
// stay as they are); malformed patterns are a config error (exit 2) naming the key.

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { asyncFsWorld, code, cleanupWorlds, liveStatus, rows } from "../e2e/lib.ts";
import type { World } from "../helpers.ts";

setDefaultTimeout(240_000); // many real hoard processes per test; the machine may be busy
afterAll(cleanupWorlds);

/** Add `exclude = …` (TOML text) to [volumes.photos]. */
function setExclude(w: World, toml: string): void {
  const text = readFileSync(w.config, "utf8");
  const next = text.replace(/(\[volumes\.photos\]\n(?:[^\[\n][^\n]*\n)*?)(offload_requires = [^\n]*\n)/, `$1$2exclude = ${toml}\n`);
  expect(next).not.toBe(text);
  writeFileSync(w.config, next);
}

const FILES = {
  "a.txt": "alpha\n",
  ".DS_Store": "finder\n",
  "dir/.DS_Store": "finder\n",
  "dir/x.tmp": "scratch\n",
  "dir/b.txt": "bravo\n",
  "dir/cache/big.bin": "cached\n",
  "dir/cache/deeper/also.bin": "cached too\n",
  cache: "a file named cache: the pattern cache/ is for directories\n",
  "build/out.o": "object\n",
  "dir/build/keep.txt": "only the top build/ is excluded\n",
  "photo (1).jpg": "a photo\n",
  "photo 1.jpg": "not excluded: parentheses are literal\n",
};
const KEPT = ["a.txt", "cache", "dir/b.txt", "dir/build/keep.txt", "photo 1.jpg"];

test("excluded files are never indexed, synced or offloaded; an excluded directory is not entered", async () => {
  const w = await asyncFsWorld({ files: FILES });
  // a name the walk would report as an error (a line break): inside the excluded directory it is never seen
  writeFileSync(w.path("vol/dir/cache/bad\nname"), "x");
  setExclude(w, `["**/.DS_Store", "*.tmp", "cache/", "/build", "photo (1).jpg"]`);

  const idx = code(await w.hoardAsync("index", "photos", "--json"), 0);
  expect(idx.json.status).toBe("success");
  expect(idx.json.problems).toEqual([]);
  // .DS_Store ×2, dir/x.tmp, dir/cache (not entered), build (not entered), photo (1).jpg
  expect(idx.json.counts).toMatchObject({ files: KEPT.length, new: KEPT.length, excluded: 6, errors: 0, skipped: 0 });
  expect(Object.keys(liveStatus(w)).sort()).toEqual(KEPT);
  const human = code(await w.hoardAsync("index", "photos", "--dry-run"), 0);
  expect(human.stdout).toContain("excluded 6");

  const s = code(await w.hoardAsync("sync", "photos", "--json"), 0);
  expect(s.json.results[0].counts).toMatchObject({ manifest: KEPT.length, transferred: KEPT.length });
  expect(existsSync(w.path("nas/photos/a.txt"))).toBe(true);
  for (const rel of [".DS_Store", "dir/.DS_Store", "dir/x.tmp", "dir/cache/big.bin", "build/out.o", "photo (1).jpg"]) expect({ rel, at_nas: existsSync(w.path(`nas/photos/${rel}`)) }).toEqual({ rel, at_nas: false });

  const off = code(await w.hoardAsync("offload", "photos", ".", "--json"), 0);
  expect(off.json.offloaded.sort()).toEqual(KEPT);
  for (const rel of Object.keys(FILES)) expect({ rel, here: existsSync(w.path(`vol/${rel}`)) }).toEqual({ rel, here: !KEPT.includes(rel) });
  // a glob selector matches no excluded file: nothing of it is in the index
  code(await w.hoardAsync("offload", "photos", "**/*.tmp", "--json"), 0);
  expect(existsSync(w.path("vol/dir/x.tmp"))).toBe(true);
});

test("a file indexed before it was excluded goes missing after a clean walk (still on disk); an offloaded one stays offloaded and synced", async () => {
  const w = await asyncFsWorld({ files: { "a.txt": "alpha\n", "old.tmp": "indexed before\n", "dir/gone.tmp": "offloaded before\n" } });
  code(await w.hoardAsync("index", "photos"), 0);
  code(await w.hoardAsync("sync", "photos"), 0);
  code(await w.hoardAsync("offload", "photos", "dir/gone.tmp"), 0);
  setExclude(w, `["*.tmp"]`);

  // a walk with an error marks nothing missing, excluded or not
  writeFileSync(w.path("vol/bad\nname"), "x");
  const partial = code(await w.hoardAsync("index", "photos", "--json"), 4);
  expect(partial.json.counts.missing).toBe(0);
  expect(liveStatus(w)["old.tmp"]).toBe("present");
  rmSync(w.path("vol/bad\nname"));

  const idx = code(await w.hoardAsync("index", "photos", "--json"), 0);
  expect(idx.json.counts).toMatchObject({ missing: 1, excluded: 1 });
  expect(liveStatus(w)).toEqual({ "a.txt": "present", "dir/gone.tmp": "offloaded", "old.tmp": "missing" });
  expect(readFileSync(w.path("vol/old.tmp"), "utf8")).toBe("indexed before\n"); // never touched
  // the offloaded file is still in the manifest: its only copies are at the destination
  const s = code(await w.hoardAsync("sync", "photos", "--json"), 0);
  expect(s.json.results[0].counts).toMatchObject({ manifest: 2, verified: 2, failed: 0 });
  // restoring it works (present again); the next index, which skips it, then treats it like old.tmp
  code(await w.hoardAsync("restore", "photos", "dir/gone.tmp"), 0);
  expect(readFileSync(w.path("vol/dir/gone.tmp"), "utf8")).toBe("offloaded before\n");
  expect(liveStatus(w)["dir/gone.tmp"]).toBe("present");
  code(await w.hoardAsync("index", "photos"), 0);
  expect(liveStatus(w)["dir/gone.tmp"]).toBe("missing");
  expect(rows(w, "SELECT path FROM files WHERE path = 'old.tmp' AND status = 'present'")).toEqual([]);
});

test("malformed exclude patterns are a config error (exit 2) naming the key; nothing runs", async () => {
  const w = await asyncFsWorld();
  const base = readFileSync(w.config, "utf8");
  const cases: [string, string, RegExp][] = [
    [`["*.tmp", "[abc"]`, "volumes.photos.exclude[1]", /invalid exclude pattern: not a valid glob: Missing closing/],
    [`["!keep.txt"]`, "volumes.photos.exclude[0]", /not supported/],
    [`[""]`, "volumes.photos.exclude[0]", /must not be empty/],
    [`["../outside"]`, "volumes.photos.exclude[0]", /segments/],
    [`["a\\\\"]`, "volumes.photos.exclude[0]", /lone backslash/],
    [`"*.tmp"`, "volumes.photos.exclude", /expected an array of patterns/],
    [`[3]`, "volumes.photos.exclude[0]", /expected a pattern string/],
  ];
  for (const [toml, key, why] of cases) {
    writeFileSync(w.config, base);
    setExclude(w, toml);
    const r = await w.hoardAsync("index", "photos");
    expect({ toml, code: r.code }).toEqual({ toml, code: 2 });
    const line = r.stderr.split("\n").find((l) => l.includes(`${key}:`));
    expect({ toml, line }).toEqual({ toml, line: expect.stringMatching(why) });
    const j = await w.hoardAsync("status", "--json");
    expect(j.code).toBe(2);
    expect(j.json?.error?.code).toBe("config_invalid");
  }
  expect(rows(w, "SELECT id FROM runs WHERE kind = 'index'")).toEqual([]);
});

test("volume add --exclude PATTERN (repeatable, commas kept) writes exclude = [...]; a malformed one writes nothing (exit 2)", async () => {
  const w = await asyncFsWorld();
  w.write("vol2/keep.txt", "kept\n");
  w.write("vol2/x.tmp", "scratch\n");
  w.write("vol2/a.txt", "brace a\n");
  w.write("vol2/sub/b.txt", "brace b\n");
  const before = readFileSync(w.config, "utf8");
  const bad = await w.hoardAsync("volume", "add", "music", w.path("vol2"), "--require", "nas", "--exclude", "*.tmp", "--exclude=[abc");
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain("volumes.music.exclude[1]");
  expect(readFileSync(w.config, "utf8")).toBe(before);
  expect(existsSync(w.path("vol2/.hoard-volume"))).toBe(false);

  code(await w.hoardAsync("volume", "add", "music", w.path("vol2"), "--require", "nas", "--exclude", "*.tmp", "--exclude={a,b}.txt"), 0);
  expect(readFileSync(w.config, "utf8")).toContain(`exclude = ["*.tmp", "{a,b}.txt"]`);
  const idx = code(await w.hoardAsync("index", "music", "--json"), 0);
  expect(idx.json.counts).toMatchObject({ files: 1, excluded: 3 });
  expect(rows(w, "SELECT path FROM files WHERE volume = 'music'")).toEqual([{ path: "keep.txt" }]);
  // adding it again with the same patterns is a no-op; with other ones it is refused
  code(await w.hoardAsync("volume", "add", "music", w.path("vol2"), "--exclude", "*.tmp", "--exclude", "{a,b}.txt"), 0);
  const other = await w.hoardAsync("volume", "add", "music", w.path("vol2"), "--exclude", "*.bak");
  expect(other.code).toBe(3);
  expect(other.stderr).toContain("exclude =");
});
