// Restore through anchored handles, end to end through the CLI (DESIGN invariant 7): unique restore-history
// names, a symlinked .hoard refused, one hostile object fails one file, fallback to a second destination.

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { code, flipBit, liveStatus, read, syncedWorld, cleanupWorlds } from "../e2e/lib.ts";

setDefaultTimeout(240_000);
afterAll(cleanupWorlds);

const temps = (dir: string) => readdirSync(dir).filter((n) => n.startsWith(".hoard-restore-") || n.startsWith(".hoard-offload-"));

test.concurrent("kept files get unique names across two restores, named by more than the run id", async () => {
  const w = await syncedWorld();
  code(await w.hoardAsync("offload", "photos", "a.txt"), 0);
  w.write("vol/a.txt", "first intruder\n");
  const r1 = code(await w.hoardAsync("restore", "photos", "a.txt", "--json"), 0);
  code(await w.hoardAsync("sync", "photos"), 0); // the restored row must be confirmed again before an offload
  expect(code(await w.hoardAsync("offload", "photos", "a.txt", "--json"), 0).json.offloaded).toEqual(["a.txt"]);
  w.write("vol/a.txt", "second intruder\n");
  const r2 = code(await w.hoardAsync("restore", "photos", "a.txt", "--json"), 0);
  expect(r1.json.kept).toHaveLength(1);
  expect(r2.json.kept).toHaveLength(1);
  expect(r1.json.kept[0].kept_at).not.toBe(r2.json.kept[0].kept_at);
  expect(read(w, `vol/${r1.json.kept[0].kept_at}`)).toBe("first intruder\n");
  expect(read(w, `vol/${r2.json.kept[0].kept_at}`)).toBe("second intruder\n");
  expect(read(w, "vol/a.txt")).toBe("alpha\n");
  // a history directory is named by more than the run id (ids start over after a DB rebuild)
  for (const k of [r1.json.kept[0], r2.json.kept[0]]) expect(k.kept_at.split("/")[2]).toMatch(/^run-\d+-\d{8}T\d{6}Z-[0-9a-f]{8}$/);
});

test.concurrent("a symlinked .hoard at the volume root is refused, never followed", async () => {
  const w = await syncedWorld();
  code(await w.hoardAsync("offload", "photos", "a.txt"), 0);
  w.write("vol/a.txt", "an intruder\n");
  mkdirSync(w.path("elsewhere"));
  symlinkSync(w.path("elsewhere"), w.path("vol/.hoard"));
  const r = code(await w.hoardAsync("restore", "photos", "--json"), 3);
  expect(r.stderr).toContain(".hoard is a symbolic link");
  expect(readdirSync(w.path("elsewhere"))).toEqual([]);
  expect(read(w, "vol/a.txt")).toBe("an intruder\n");
  expect(liveStatus(w)["a.txt"]).toBe("offloaded");
  expect(temps(w.path("vol"))).toEqual([]);
});

test.concurrent("one hostile object fails that file only: a directory where the file belongs, a deleted object; no temp is left", async () => {
  const w = await syncedWorld({ files: { "a.txt": "alpha\n", "dir/b.txt": "bravo\n", "dir/sub/c.bin": "charlie\n", "d.txt": "delta\n" } });
  code(await w.hoardAsync("offload", "photos", "."), 0);
  mkdirSync(w.path("vol/a.txt")); // a directory where a file belongs
  w.write("vol/a.txt/inner", "keep me\n");
  rmSync(w.path("nas/photos/d.txt")); // the only copy's object is gone
  const r = code(await w.hoardAsync("restore", "photos", "--json"), 4);
  expect(r.json.status).toBe("partial");
  expect(r.json.counts).toMatchObject({ selected: 4, restored: 2, failed: 2 });
  const why = Object.fromEntries(r.json.failures.map((f: any) => [f.path, f.reason]));
  expect(why["a.txt"]).toContain("a directory is where the file belongs");
  expect(why["d.txt"]).toContain("nas:");
  expect(why["d.txt"]).toContain("--from DEST");
  expect(read(w, "vol/dir/b.txt")).toBe("bravo\n");
  expect(read(w, "vol/dir/sub/c.bin")).toBe("charlie\n");
  expect(read(w, "vol/a.txt/inner")).toBe("keep me\n");
  expect(existsSync(w.path("vol/d.txt"))).toBe(false);
  expect(liveStatus(w)).toEqual({ "a.txt": "offloaded", "d.txt": "offloaded", "dir/b.txt": "present", "dir/sub/c.bin": "present" });
  for (const d of ["vol", "vol/dir", "vol/dir/sub"]) expect(temps(w.path(d))).toEqual([]);
});

test.concurrent("fallback: the first destination's copy is deleted or corrupt, the second serves the file and is named", async () => {
  const w = await syncedWorld({ extraDests: ["cloud"], require: ["nas", "cloud"] });
  code(await w.hoardAsync("sync", "photos", "--to", "cloud"), 0);
  code(await w.hoardAsync("offload", "photos", "."), 0);
  rmSync(w.path("nas/photos/a.txt"));
  flipBit(w.path("nas/photos/dir/b.txt"));
  const r = code(await w.hoardAsync("restore", "photos", "--json"), 0);
  expect(Object.fromEntries(r.json.restored.map((x: any) => [x.path, x.from]))).toEqual({ "a.txt": "cloud", "dir/b.txt": "cloud", "dir/sub/c.bin": "nas" });
  expect(read(w, "vol/a.txt")).toBe("alpha\n");
  expect(read(w, "vol/dir/b.txt")).toBe("bravo\n");
  expect(readFileSync(w.path("vol/dir/sub/c.bin"), "utf8")).toBe("charlie\n");
  for (const d of ["vol", "vol/dir"]) expect(temps(w.path(d))).toEqual([]);

  // both copies bad: the file fails, the error names both and hints --from
  code(await w.hoardAsync("sync", "photos", "--to", "nas"), 0);
  code(await w.hoardAsync("sync", "photos", "--to", "cloud"), 0);
  expect(code(await w.hoardAsync("offload", "photos", "a.txt", "--json"), 0).json.offloaded).toEqual(["a.txt"]);
  rmSync(w.path("nas/photos/a.txt"));
  rmSync(w.path("cloud/photos/a.txt"));
  const both = code(await w.hoardAsync("restore", "photos", "--json"), 1);
  expect(both.json.failures).toHaveLength(1);
  expect(both.json.failures[0].reason).toMatch(/nas: .*; cloud: .*--from DEST/);
  expect(temps(w.path("vol"))).toEqual([]);
});
