// Sync keeps going past a failed destination: every destination is synced and reported, each result
// (with its error) is kept in --json, and the exit code is 4 when some failed. A single destination
// keeps its own error and exit code.

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { asyncFsWorld, code, evidence, rows, cleanupWorlds } from "../e2e/lib.ts";

setDefaultTimeout(240_000); // many real hoard processes per test; the machine may be busy
afterAll(cleanupWorlds);

test.concurrent("an unreachable first destination: the second is still synced; both results in --json; exit 4", async () => {
  const w = await asyncFsWorld({ extraDests: ["cloud"], require: ["nas", "cloud"] });
  code(await w.hoardAsync("index", "photos"), 0);
  rmSync(w.path("nas"), { recursive: true, force: true }); // gone (an unmounted disk): cannot be reached
  const r = code(await w.hoardAsync("sync", "photos", "--json"), 4);
  expect(r.json.results.map((x: any) => [x.destination, x.status])).toEqual([["nas", "failed"], ["cloud", "success"]]);
  const nas = r.json.results[0];
  expect(nas.error).toMatchObject({ kind: "failure", code: expect.any(String), message: expect.stringContaining("/nas") });
  expect(nas.error.hint).toBeTruthy();
  expect(nas.counts.verified).toBe(0);
  expect(r.json.results[1].counts).toMatchObject({ manifest: 3, verified: 3, transferred: 3 });
  expect(evidence(w, "cloud")).toBeDefined();
  expect(evidence(w, "nas")).toBeUndefined();
  // the human report names both, with the way out for the failed one; the warning goes to stderr
  const h = code(await w.hoardAsync("sync", "photos"), 4);
  expect(h.stdout).toMatch(/sync photos → nas: failed\n {2}.+\n {2}next: /);
  expect(h.stdout).toContain("sync photos → cloud (run");
  expect(h.stderr).toContain("sync photos → nas");
  // every invocation left its rows: a failed one for nas, successes for cloud
  const runs = rows<{ destination: string; status: string }>(w, "SELECT destination, status FROM runs WHERE kind = 'sync' ORDER BY id");
  expect(runs.map((x) => `${x.destination}:${x.status}`)).toEqual(["nas:failed", "cloud:success", "nas:failed", "cloud:success"]);
});

test.concurrent("a last destination that is not a directory any more: the first is synced; exit 4; --to that one alone keeps its own error", async () => {
  const w = await asyncFsWorld({ extraDests: ["cloud"] });
  code(await w.hoardAsync("index", "photos"), 0);
  rmSync(w.path("cloud"), { recursive: true, force: true });
  writeFileSync(w.path("cloud"), "not a directory\n"); // the destination's path is now a file
  const r = code(await w.hoardAsync("sync", "photos", "--json"), 4);
  expect(r.json.results.map((x: any) => [x.destination, x.status])).toEqual([["nas", "success"], ["cloud", expect.stringMatching(/^(refused|failed)$/)]]);
  expect(r.json.results[1].error.message).toContain("cloud");
  expect(evidence(w, "nas")).toBeDefined();
  // one destination: its own error document and exit code, as before
  const one = await w.hoardAsync("sync", "photos", "--to", "cloud", "--json");
  expect([1, 3]).toContain(one.code);
  expect(one.json.ok).toBe(false);
  expect(one.json.error.exit_code).toBe(one.code);
  // all well again: exit 0
  rmSync(w.path("cloud"));
  mkdirSync(w.path("cloud")); // an empty directory: cloud's identity marker is gone (wiped)
  const wiped = code(await w.hoardAsync("sync", "photos", "--json"), 4);
  expect(wiped.json.results.map((x: any) => [x.destination, x.status])).toEqual([["nas", "success"], ["cloud", "refused"]]);
  code(await w.hoardAsync("dest", "reset", "cloud", "--yes"), 0);
  const ok = code(await w.hoardAsync("sync", "photos", "--json"), 0);
  expect(ok.json.results.map((x: any) => x.status)).toEqual(["success", "success"]);
});
