// Review attack on the fs destination: an object already at its name (copied there by another tool, or left
// by a push killed before its fsyncs) is read back from the page cache; before it is claimed, the object and
// its directory must be fsynced, or a power cut after the offload loses both copies (observed with strace).

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { TEMP_PREFIX } from "../../plugins/fs/common.ts";
import { hoardCommand } from "../helpers.ts";
import { asyncFsWorld, cleanupWorlds, row } from "../e2e/lib.ts";

setDefaultTimeout(180_000);
afterAll(cleanupWorlds);

// strace must be able to trace here (a container may forbid ptrace), not merely be installed
// -ff: one file per thread (LOG.TID), so no call is split into "<unfinished ...>" and "resumed" lines
const traced = (log: string): string[] =>
  readdirSync(dirname(log))
    .filter((f) => f.startsWith(`${basename(log)}.`))
    .flatMap((f) => readFileSync(join(dirname(log), f), "utf8").split("\n"));
const hasStrace = spawnSync("strace", ["-f", "-o", "/dev/null", "true"]).status === 0;

test.skipIf(!hasStrace)("objects found in place are fsynced, with their directory, before the sync claims them", async () => {
  const w = await asyncFsWorld({ files: { "a.txt": "alpha\n", "dir/b.txt": "bravo\n" } });
  // the objects are already there (e.g. `cp -r` a moment ago): dirty in the page cache, no receipt
  mkdirSync(w.path("nas/photos/dir"), { recursive: true });
  writeFileSync(w.path("nas/photos/a.txt"), "alpha\n");
  writeFileSync(w.path("nas/photos/dir/b.txt"), "bravo\n");
  const log = w.path("strace.log");
  const r = spawnSync("strace", ["-ff", "-y", "-e", "trace=fsync,fdatasync,syncfs", "-o", w.path("index-trace.log"), ...hoardCommand(), "--config", w.config, "--db", w.db, "index", "photos"], { env: w.env });
  expect(r.status).toBe(0);
  const s = spawnSync("strace", ["-ff", "-y", "-e", "trace=fsync,fdatasync,syncfs", "-o", log, ...hoardCommand(), "--config", w.config, "--db", w.db, "sync", "photos", "--to", "nas", "--json"], { env: w.env, encoding: "utf8" });
  expect(s.status).toBe(0);
  expect(JSON.parse(s.stdout).results[0].counts.transferred ?? 0).toBe(0); // nothing copied: both verified in place
  expect(row<{ n: bigint }>(w, "SELECT count(*) AS n FROM dest_objects WHERE destination = 'nas' AND ok = 1")!.n).toBe(2n);
  const synced = traced(log).filter((l) => /(^|\s)(fsync|fdatasync)\(\d+</.test(l) && /= 0$/.test(l)).map((l) => /<([^>]*)>/.exec(l)![1]!);
  for (const p of ["nas/photos/a.txt", "nas/photos/dir/b.txt", "nas/photos", "nas/photos/dir"]) expect(synced).toContain(w.path(p));
});

test.skipIf(!hasStrace)("a large file copied in the kernel before its descriptor was opened is fsynced itself, not only by the batch's syncfs", async () => {
  const big = "x".repeat(3 << 20); // over one chunk: copied by copy_file_range before the temp is opened
  const w = await asyncFsWorld({ files: { "a.txt": "alpha\n", "big.bin": big } });
  expect(spawnSync(hoardCommand()[0]!, [...hoardCommand().slice(1), "--config", w.config, "--db", w.db, "index", "photos"], { env: w.env }).status).toBe(0);
  const log = w.path("strace.log");
  const s = spawnSync("strace", ["-ff", "-y", "-e", "trace=fsync,fdatasync,syncfs", "-o", log, ...hoardCommand(), "--config", w.config, "--db", w.db, "sync", "photos", "--to", "nas", "--json"], { env: w.env, encoding: "utf8" });
  expect(s.status).toBe(0);
  const lines = traced(log);
  const temp = (name: string) => new RegExp(`(^|\\s)(fsync|fdatasync)\\(\\d+<${w.path("nas/photos/")}${TEMP_PREFIX.replace(/\./g, "\\.")}[^>]*>\\) = 0$`).test(name);
  const fsyncedTemps = lines.filter(temp).length;
  if (lines.some((l) => /(^|\s)syncfs\(/.test(l))) expect(fsyncedTemps).toBe(1); // the big one; the small one rides on syncfs
  else expect(fsyncedTemps).toBe(2); // no syncfs here: every temp is fsynced
});
