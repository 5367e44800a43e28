// `hoard ls VOLUME [PATH…]`: each file's status (present, offloaded, missing), size and, per
// destination, the offload gate's verdict for that destination; human table and --json.

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import { asyncFsWorld, code, cleanupWorlds } from "../e2e/lib.ts";

setDefaultTimeout(240_000); // many real hoard processes per test; the machine may be busy
afterAll(cleanupWorlds);

test("statuses, sizes and per-destination evidence, as JSON and as a table", async () => {
  const w = await asyncFsWorld({ extraDests: ["cloud"], files: { "a.txt": "alpha\n", "dir/b.txt": "bravo\n", "dir/sub/c.bin": "charlie\n" } });
  code(await w.hoardAsync("index", "photos"), 0);
  code(await w.hoardAsync("sync", "photos", "--to", "nas"), 0); // cloud: initialised, never synced
  code(await w.hoardAsync("offload", "photos", "a.txt"), 0);
  rmSync(w.path("vol/dir/b.txt"));
  w.write("vol/new.txt", "brand new\n");
  code(await w.hoardAsync("index", "photos"), 0);

  const r = code(await w.hoardAsync("ls", "photos", "--json"), 0);
  expect(r.json.volume).toBe("photos");
  expect(r.json.destinations).toEqual([{ name: "nas", required: true }, { name: "cloud", required: false }]);
  const by = Object.fromEntries(r.json.files.map((f: any) => [f.path, f]));
  expect(Object.keys(by)).toEqual(["a.txt", "dir/b.txt", "dir/sub/c.bin", "new.txt"]);
  expect([by["a.txt"].status, by["dir/b.txt"].status, by["dir/sub/c.bin"].status, by["new.txt"].status]).toEqual(["offloaded", "missing", "present", "present"]);
  expect(by["new.txt"].size).toBe(10);
  expect(by["a.txt"].blake3).toMatch(/^[0-9a-f]{64}$/);
  expect(by["a.txt"].mtime_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/);
  const verdict = (p: string) => by[p].evidence.map((e: any) => `${e.destination}:${e.safe ? "safe" : e.code}`);
  expect(verdict("a.txt")).toEqual(["nas:safe", "cloud:no_evidence"]);
  expect(verdict("dir/sub/c.bin")).toEqual(["nas:safe", "cloud:no_evidence"]);
  expect(verdict("new.txt")).toEqual(["nas:not_covered", "cloud:no_evidence"]);
  expect(by["new.txt"].evidence[0]).toMatchObject({ destination: "nas", required: true, safe: false });
  expect(by["new.txt"].evidence[0].reason).toContain("covers content up to run");
  expect(r.json.counts).toEqual({ files: 4, bytes: 6 + 6 + 8 + 10, present: 2, offloaded: 1, missing: 1 });

  // selectors narrow it; unmatched ones are reported
  const some = code(await w.hoardAsync("ls", "photos", "dir", "nope", "--json"), 0);
  expect(some.json.files.map((f: any) => f.path)).toEqual(["dir/b.txt", "dir/sub/c.bin"]);
  expect(some.json.unmatched).toEqual(["nope"]);

  // the human table: one row per file, one column per destination (* = required)
  const h = code(await w.hoardAsync("ls", "photos"), 0).stdout;
  expect(h).toMatch(/^PATH\s+STATUS\s+SIZE\s+NAS\*\s+CLOUD\n/);
  expect(h).toMatch(/\na\.txt\s+offloaded\s+6 B\s+safe\s+no-evidence\n/);
  expect(h).toMatch(/\nnew\.txt\s+present\s+10 B\s+not-covered\s+no-evidence\n/);
  expect(h).toContain("4 files, 30 B: 2 present, 1 offloaded, 1 missing");

  // after syncing both: the offloaded a.txt never reached cloud, and ls says so; cloud's evidence is a prefix
  // of runs, blocked at a.txt's run, so the newer new.txt has none there either (it was pushed and checked)
  code(await w.hoardAsync("sync", "photos"), 4); // an alarm: a.txt is offloaded and missing at cloud
  const after = code(await w.hoardAsync("ls", "photos", "new.txt", "a.txt", "--json"), 0);
  const v = Object.fromEntries(after.json.files.map((f: any) => [f.path, f.evidence.map((e: any) => (e.safe ? "safe" : e.code))]));
  expect(v).toEqual({ "a.txt": ["safe", "last_check_failed"], "new.txt": ["safe", "no_evidence"] });
});

test("an uninitialised destination and an unknown volume", async () => {
  const w = await asyncFsWorld({ destInit: false });
  code(await w.hoardAsync("index", "photos"), 0);
  const r = code(await w.hoardAsync("ls", "photos", "a.txt", "--json"), 0);
  expect(r.json.files[0].evidence).toEqual([{ destination: "nas", required: true, safe: false, code: "dest_not_initialised", reason: "destination nas is not initialised" }]);
  expect(code(await w.hoardAsync("ls", "photos", "a.txt"), 0).stdout).toContain("not-initialised");
  const u = code(await w.hoardAsync("ls", "nope", "--json"), 2);
  expect(u.json.error.code).toBe("unknown_volume");
  // ls writes nothing: no run rows
  const runs = code(await w.hoardAsync("runs", "--json"), 0).json.runs;
  expect(runs.every((x: any) => x.kind === "index")).toBe(true);
});
