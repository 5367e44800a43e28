// `hoard sync --bwlimit RATE` (issue 14, item 8): the rate reaches rclone's copy as `--bwlimit RATE`
// (seen by an argv-logging wrapper around the real rclone); a rate rclone would not take is a usage
// error (exit 2) before anything runs.

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cleanupWorlds, code, rows } from "../e2e/lib.ts";
import { argvWrapper, which } from "../contract/harness.ts";
import { world } from "../helpers.ts";

setDefaultTimeout(240_000);
const worlds: ReturnType<typeof world>[] = [];
afterAll(() => {
  for (const w of worlds) w.cleanup();
  cleanupWorlds();
});

async function rcloneWorld() {
  const w = world();
  worlds.push(w);
  mkdirSync(w.path("logs"));
  const wrap = argvWrapper(w.path("logs"), which("rclone"));
  w.write("vol/a.txt", "alpha\n");
  w.write("vol/dir/b.txt", "bravo\n");
  w.setConfig(
    `node = "testnode"\n\n[volumes.photos]\npath = ${JSON.stringify(w.path("vol"))}\nsync_to = ["cloud"]\noffload_requires = ["cloud"]\n\n` +
      `[destinations.cloud]\ntype = "rclone"\nremote = ${JSON.stringify(w.path("cloud"))}\nbinary = ${JSON.stringify(wrap.bin)}\n`,
  );
  mkdirSync(w.path("cloud"));
  code(await w.hoardAsync("volume", "add", "photos", w.path("vol")), 0);
  code(await w.hoardAsync("dest", "init", "cloud"), 0);
  code(await w.hoardAsync("index", "photos"), 0);
  return { w, copies: () => wrap.argv().filter((a) => a[0] === "copy"), fetches: () => wrap.argv().filter((a) => a[0] === "copyto" && !a.some((x) => x.includes(".hoard"))) };
}

test("--bwlimit reaches rclone's copy verbatim; without it, no limit is passed", async () => {
  const { w, copies } = await rcloneWorld();
  const r = code(await w.hoardAsync("sync", "photos", "--bwlimit", "10M", "--json"), 0);
  expect(r.json.results[0].counts).toMatchObject({ transferred: 2, verified: 2 });
  expect(copies()).toHaveLength(1);
  const argv = copies()[0]!;
  expect(argv[argv.indexOf("--bwlimit") + 1]).toBe("10M");

  w.write("vol/c.txt", "charlie\n");
  code(await w.hoardAsync("index", "photos"), 0);
  code(await w.hoardAsync("sync", "photos", "--bwlimit=512k:off"), 0);
  expect(copies()).toHaveLength(2);
  expect(copies()[1]!.join(" ")).toContain("--bwlimit 512k:off");

  w.write("vol/d.txt", "delta\n");
  code(await w.hoardAsync("index", "photos"), 0);
  code(await w.hoardAsync("sync", "photos"), 0);
  expect(copies()).toHaveLength(3);
  expect(copies()[2]).not.toContain("--bwlimit");
});

test("restore --bwlimit reaches rclone's copyto; a bad rate is refused before anything runs", async () => {
  const { w, fetches } = await rcloneWorld();
  code(await w.hoardAsync("sync", "photos"), 0);
  code(await w.hoardAsync("offload", "photos", "."), 0);
  const bad = await w.hoardAsync("restore", "photos", "--bwlimit", "quick", "--json");
  expect([bad.code, bad.json?.error?.code]).toEqual([2, "bad_bwlimit"]);
  expect(fetches()).toEqual([]);
  const r = code(await w.hoardAsync("restore", "photos", "a.txt", "--bwlimit", "1M", "--json"), 0);
  expect(r.json.counts.restored).toBe(1);
  expect(fetches()).toHaveLength(1);
  expect(fetches()[0]!.join(" ")).toContain("--bwlimit 1M");
  code(await w.hoardAsync("restore", "photos", "dir/b.txt"), 0);
  expect(fetches()).toHaveLength(2);
  expect(fetches()[1]).not.toContain("--bwlimit");
  expect(readFileSync(w.path("vol/dir/b.txt"), "utf8")).toBe("bravo\n");
});

test("a rate rclone would not take is a usage error (exit 2) before anything runs", async () => {
  const w = world();
  worlds.push(w);
  writeFileSync(w.config, ""); // no config needed: the flag is checked first
  for (const bad of ["fast", "10MB", "-5", "10x", "", "08:00,512k", "1.5.5M"]) {
    const r = await w.hoardAsync("sync", "--bwlimit", bad, "--json");
    expect({ bad, code: r.code, error: r.json?.error?.code }).toEqual({ bad, code: 2, error: "bad_bwlimit" });
  }
  const { w: rw } = await rcloneWorld();
  const runs = rows(rw, "SELECT id FROM runs").length;
  const r = code(await rw.hoardAsync("sync", "photos", "--bwlimit", "lots"), 2);
  expect(r.stderr).toContain("--bwlimit");
  expect(r.stderr).toMatch(/10M|512k/);
  expect(rows(rw, "SELECT id FROM runs").length).toBe(runs);
});
