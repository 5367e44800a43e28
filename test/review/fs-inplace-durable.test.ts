// Review attack on the fs destination: an object already at its name (copied there by another tool, or left
// by a push killed before its fsyncs) is read back from the page cache; before it is claimed, the object and
// its directory must be fsynced, or a power cut after the offload loses both copies (observed with strace).

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hoardCommand } from "../helpers.ts";
import { asyncFsWorld, cleanupWorlds, row } from "../e2e/lib.ts";

setDefaultTimeout(180_000);
afterAll(cleanupWorlds);

const hasStrace = spawnSync("strace", ["-V"]).status === 0;

test.skipIf(!hasStrace)("objects found in place are fsynced, with their directory, before the sync claims them", async () => {
  const w = await asyncFsWorld({ files: { "a.txt": "alpha\n", "dir/b.txt": "bravo\n" } });
  // the objects are already there (e.g. `cp -r` a moment ago): dirty in the page cache, no receipt
  mkdirSync(w.path("nas/photos/dir"), { recursive: true });
  writeFileSync(w.path("nas/photos/a.txt"), "alpha\n");
  writeFileSync(w.path("nas/photos/dir/b.txt"), "bravo\n");
  const log = w.path("strace.log");
  const r = spawnSync("strace", ["-f", "-y", "-e", "trace=fsync,fdatasync,syncfs", "-o", log, ...hoardCommand(), "--config", w.config, "--db", w.db, "index", "photos"], { env: w.env });
  expect(r.status).toBe(0);
  const s = spawnSync("strace", ["-f", "-y", "-e", "trace=fsync,fdatasync,syncfs", "-o", log, ...hoardCommand(), "--config", w.config, "--db", w.db, "sync", "photos", "--to", "nas", "--json"], { env: w.env, encoding: "utf8" });
  expect(s.status).toBe(0);
  expect(JSON.parse(s.stdout).results[0].counts.transferred ?? 0).toBe(0); // nothing copied: both verified in place
  expect(row<{ n: bigint }>(w, "SELECT count(*) AS n FROM dest_objects WHERE destination = 'nas' AND ok = 1")!.n).toBe(2n);
  const synced = readFileSync(log, "utf8").split("\n").filter((l) => / (fsync|fdatasync)\(\d+</.test(l) && /= 0$/.test(l)).map((l) => /<([^>]*)>/.exec(l)![1]!);
  for (const p of ["nas/photos/a.txt", "nas/photos/dir/b.txt", "nas/photos", "nas/photos/dir"]) expect(synced).toContain(w.path(p));
});
