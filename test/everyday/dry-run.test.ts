// Human --dry-run output of sync, offload and restore shows what, not just how many: the files (the
// first 20, then "… N more"), the bytes, and per destination what would go; --json carries the same.

import { afterAll, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { asyncFsWorld, cleanupWorlds, code, liveStatus, rows } from "../e2e/lib.ts";

afterAll(cleanupWorlds);

// 25 files of 100 bytes each, and one with a space in its name
const files: Record<string, string> = { "sub/x y.txt": "hello\n" };
for (let i = 1; i <= 25; i++) files[`f${String(i).padStart(2, "0")}.raw`] = "x".repeat(100);
const runCount = (w: Parameters<typeof rows>[0]) => rows(w, "SELECT id FROM runs").length;

test.concurrent("sync -n: per destination, the files and bytes it would be sent; nothing pushed or recorded", async () => {
  const w = await asyncFsWorld({ files, extraDests: ["cloud"] });
  code(await w.hoardAsync("index", "photos"), 0);
  code(await w.hoardAsync("sync", "photos", "--to", "nas"), 0);
  w.write("vol/new file.txt", "new!\n");
  code(await w.hoardAsync("index", "photos"), 0);
  const runs = runCount(w);
  const cloudBefore = readdirSync(w.path("cloud")).sort();

  const r = code(await w.hoardAsync("sync", "photos", "-n"), 0);
  const [nas, cloud] = r.stdout.split("sync photos → cloud");
  expect(nas).toContain("sync photos → nas: dry-run");
  expect(nas).toContain("would check 27 files (2.5 KiB); would send 1 files (5 B) it holds no verified copy of:\n    new file.txt\n");
  expect(cloud).toContain("would check 27 files (2.5 KiB); would send 27 files (2.5 KiB) it holds no verified copy of:");
  expect(cloud).toContain("    f01.raw\n");
  expect(cloud).toContain("    … 7 more\n");
  expect(cloud!.match(/^ {4}\S/gm)!.length).toBe(21); // 20 files and the "… 7 more" line
  expect(r.stdout).toContain("[dry run] would send: photos → nas 1 files (5 B), photos → cloud 27 files (2.5 KiB)");

  const j = code(await w.hoardAsync("sync", "photos", "--dry-run", "--json"), 0).json;
  const by = Object.fromEntries(j.results.map((x: any) => [x.destination, x]));
  expect(by.nas.would_send).toEqual({ files: 1, bytes: 5, paths: ["new file.txt"] });
  expect(by.cloud.would_send.files).toBe(27);
  expect(by.cloud.would_send.bytes).toBe(25 * 100 + 6 + 5);
  expect(by.cloud.would_send.paths).toHaveLength(27);
  // nothing happened
  expect(runCount(w)).toBe(runs);
  expect(readdirSync(w.path("cloud")).sort()).toEqual(cloudBefore);
});

test.concurrent("offload -n: the local copies that would be deleted, their bytes, the destinations that hold them; nothing deleted", async () => {
  const w = await asyncFsWorld({ files });
  code(await w.hoardAsync("index", "photos"), 0);
  code(await w.hoardAsync("sync", "photos"), 0);
  w.write("vol/late.txt", "not synced\n");
  code(await w.hoardAsync("index", "photos"), 0);

  const r = code(await w.hoardAsync("offload", "photos", ".", "--dry-run"), 0);
  expect(r.stdout).toContain("26 of 27 selected files may be offloaded (2.4 KiB); the local copies that would be deleted:");
  expect(r.stdout).toContain("    f01.raw (100 B)\n");
  expect(r.stdout).toContain("    … 6 more\n");
  expect(r.stdout).not.toContain("sub/x y.txt (6 B)"); // beyond the first 20
  expect(r.stdout).toContain("every required destination (nas) already holds verified evidence for them");
  expect(r.stdout).toContain("kept 1 files that are not provably safe");

  const small = code(await w.hoardAsync("offload", "photos", "sub", "-n"), 0);
  expect(small.stdout).toContain("1 of 1 selected files may be offloaded (6 B); the local copies that would be deleted:\n    sub/x y.txt (6 B)\n");
  expect(small.stdout).not.toContain("more");

  const j = code(await w.hoardAsync("offload", "photos", ".", "-n", "--json"), 0).json;
  expect(j.counts).toMatchObject({ selected: 27, offloadable: 26, offloadable_bytes: 2506, offloaded: 0 });
  expect(j.would_offload).toHaveLength(26);
  expect(j.would_offload[0]).toEqual({ path: "f01.raw", size: 100 });
  expect(j.would_offload.map((f: any) => f.path)).not.toContain("late.txt");
  // nothing deleted
  expect(Object.values(liveStatus(w)).every((s) => s === "present")).toBe(true);
  expect(existsSync(w.path("vol/f01.raw"))).toBe(true);

  // a selector that matches nothing lists nothing and says so
  const none = code(await w.hoardAsync("offload", "photos", "nope", "-n"), 0);
  expect(none.stdout).toContain("0 of 0 selected files may be offloaded (0 B)");
  expect(none.stdout).toContain("! selector nope matched no present file");
});

test.concurrent("restore -n: the files that would come back, their bytes, and how many from each destination", async () => {
  const w = await asyncFsWorld({ files });
  code(await w.hoardAsync("index", "photos"), 0);
  code(await w.hoardAsync("sync", "photos"), 0);
  code(await w.hoardAsync("offload", "photos", "."), 0);
  const runs = runCount(w);

  const r = code(await w.hoardAsync("restore", "photos", "-n"), 0);
  expect(r.stdout).toContain("would restore 26 of 26 files (2.4 KiB):");
  expect(r.stdout).toContain("    f01.raw (100 B) from nas\n");
  expect(r.stdout).toContain("    … 6 more\n");
  expect(r.stdout).toContain("  from nas: 26 files (2.4 KiB)");

  const one = code(await w.hoardAsync("restore", "photos", "sub", "--dry-run"), 0);
  expect(one.stdout).toContain("would restore 1 of 1 files (6 B):\n    sub/x y.txt (6 B) from nas\n  from nas: 1 files (6 B)");

  const j = code(await w.hoardAsync("restore", "photos", "-n", "--json"), 0).json;
  expect(j.restored).toHaveLength(26);
  expect(j.restored[0]).toEqual({ path: "f01.raw", from: "nas", size: 100 });
  // nothing restored, nothing recorded
  expect(existsSync(w.path("vol/f01.raw"))).toBe(false);
  expect(runCount(w)).toBe(runs);
  // a real restore reports sizes too
  const real = code(await w.hoardAsync("restore", "photos", "sub", "--json"), 0).json;
  expect(real.restored).toEqual([{ path: "sub/x y.txt", from: "nas", size: 6 }]);
});

test.concurrent("bad input on a dry run is still a usage error", async () => {
  const w = await asyncFsWorld({ files: { "a.txt": "a\n" } });
  code(await w.hoardAsync("index", "photos"), 0);
  expect(code(await w.hoardAsync("sync", "photos", "-n", "--to", "nowhere"), 2).stderr).toContain("unknown destination nowhere");
  expect(code(await w.hoardAsync("offload", "photos", "-n"), 2).stderr).toContain("offload needs a selector");
});
