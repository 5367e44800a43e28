// Sync and the index (issue 14, item 5): sync warns (stderr, and `tree_changed` in --json) when the
// tree changed since the last index, by a cheap size/mtime look that records nothing; `sync --index`
// indexes first (a real index run), then syncs what it recorded.

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { asyncFsWorld, cleanupWorlds, code, liveStatus, rows, setMtimeNs, syncedWorld } from "../e2e/lib.ts";

setDefaultTimeout(240_000); // many real hoard processes per test; the machine may be busy
afterAll(cleanupWorlds);

const indexRuns = (w: Parameters<typeof rows>[0]) => rows(w, "SELECT id FROM runs WHERE kind = 'index'").length;

test("a tree changed since the last index: sync warns and says what (new, changed, missing) but pushes what was indexed; --index indexes first", async () => {
  const w = await syncedWorld(); // a.txt, dir/b.txt, dir/sub/c.bin
  w.write("vol/new.txt", "brand new\n");
  writeFileSync(w.path("vol/a.txt"), "alpha, longer now\n");
  rmSync(w.path("vol/dir/b.txt"));
  const before = indexRuns(w);

  const r = code(await w.hoardAsync("sync", "photos", "--json"), 0);
  expect(r.json.tree_changed).toEqual([{ volume: "photos", new: 1, changed: 1, missing: 1 }]);
  expect(r.json.index).toBeNull();
  expect(r.stderr).toContain("photos changed since its last index (1 new, 1 changed, 1 missing");
  expect(r.stderr).toContain("hoard sync --index");
  expect(r.json.results[0].counts).toMatchObject({ manifest: 3, transferred: 0 }); // the indexed files
  expect(indexRuns(w)).toBe(before); // the look records nothing
  expect(liveStatus(w)).toEqual({ "a.txt": "present", "dir/b.txt": "present", "dir/sub/c.bin": "present" });
  // the dry run warns too; human output goes to stdout, the warning to stderr
  const dry = code(await w.hoardAsync("sync", "photos", "-n"), 0);
  expect(dry.stderr).toContain("photos changed since its last index");

  const x = code(await w.hoardAsync("sync", "photos", "--index", "--json"), 0);
  expect(x.json.tree_changed).toBeNull();
  expect(x.json.index).toHaveLength(1);
  expect(x.json.index[0]).toMatchObject({ volume: "photos", status: "success", dry_run: false, counts: { new: 1, changed: 1, missing: 1 } });
  expect(x.stderr).not.toContain("changed since its last index");
  expect(indexRuns(w)).toBe(before + 1);
  expect(liveStatus(w)).toEqual({ "a.txt": "present", "dir/b.txt": "missing", "dir/sub/c.bin": "present", "new.txt": "present" });
  expect(x.json.results[0].counts).toMatchObject({ manifest: 3, verified: 3, transferred: 2 });
  expect(readFileSync(w.path("nas/photos/a.txt"), "utf8")).toBe("alpha, longer now\n");
  // the index run comes before the sync run
  const kinds = rows<{ kind: string }>(w, "SELECT kind FROM runs ORDER BY id").map((k) => k.kind);
  expect(kinds.slice(-2)).toEqual(["index", "sync"]);

  // nothing changed since: no warning, an empty list
  const quiet = code(await w.hoardAsync("sync", "photos", "--json"), 0);
  expect(quiet.json.tree_changed).toEqual([]);
  expect(quiet.stderr).not.toContain("changed since its last index");
  // human: the index line comes first
  const h = code(await w.hoardAsync("sync", "photos", "--index"), 0);
  expect(h.stdout).toMatch(/^index photos \(run \d+\): success; new 0, changed 0, missing 0\nsync photos → nas/);
});

test("the look is by size and mtime (a touched file counts); excluded files are not counted; --index --dry-run records nothing", async () => {
  const w = await syncedWorld();
  setMtimeNs(w.path("vol/a.txt"), 1_000_000_000_000_000_000n); // same size and bytes, another mtime
  w.write("vol/scratch.tmp", "excluded\n");
  const cfg = readFileSync(w.config, "utf8").replace(/(offload_requires = [^\n]*\n)/, `$1exclude = ["*.tmp"]\n`);
  writeFileSync(w.config, cfg);
  const r = code(await w.hoardAsync("sync", "photos", "--json"), 0);
  expect(r.json.tree_changed).toEqual([{ volume: "photos", new: 0, changed: 1, missing: 0 }]);

  const before = indexRuns(w);
  const d = code(await w.hoardAsync("sync", "photos", "--index", "--dry-run", "--json"), 0);
  expect(d.json.index[0]).toMatchObject({ run_id: null, dry_run: true, counts: { unchanged: 3, excluded: 1 } });
  expect(d.json.results[0].status).toBe("dry-run");
  expect(indexRuns(w)).toBe(before);
  expect(rows(w, "SELECT id FROM runs WHERE kind = 'sync' AND status = 'running'")).toEqual([]);
});

test("sync --index of every volume: one that cannot be indexed is reported (exit 4), the others are indexed and synced", async () => {
  const w = await asyncFsWorld({ extraDests: [] });
  // a second volume whose directory is gone after it was added
  w.write("vol2/m.txt", "music\n");
  const cfg = readFileSync(w.config, "utf8") + `\n[volumes.music]\npath = ${JSON.stringify(w.path("vol2"))}\nsync_to = ["nas"]\n`;
  writeFileSync(w.config, cfg);
  code(await w.hoardAsync("volume", "add", "music", w.path("vol2")), 0);
  rmSync(w.path("vol2"), { recursive: true });
  const r = code(await w.hoardAsync("sync", "--index", "--json"), 4);
  expect(r.json.index.map((i: any) => [i.volume, i.status])).toEqual([["photos", "success"], ["music", "failed"]]);
  expect(r.json.index[1].error).toMatchObject({ code: expect.any(String), message: expect.any(String) });
  expect(r.json.results.find((x: any) => x.volume === "photos").counts).toMatchObject({ manifest: 3, transferred: 3 });
  expect(r.stderr).toContain("index music:");
});
