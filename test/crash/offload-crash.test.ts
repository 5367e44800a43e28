// Offload killed (SIGKILL, like a power cut) at each named checkpoint of src/kernel/crash.ts, in
// small batches: no byte is lost, the next index + offload completes, and restore is byte-exact.

import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { hoardCommand, type World } from "../helpers.ts";
import { cleanupWorlds, code, row, rows, syncedWorld } from "../e2e/lib.ts";
import { local, remoteAt, runRaw } from "./lib.ts";
const remote = (w: World, rel: string) => remoteAt(w, "nas", rel);

// every test drives several real hoard processes; the machine may be busy
setDefaultTimeout(240_000);
afterAll(cleanupWorlds);

/** Seven files of different sizes (two of them in subdirectories): four batches of at most two. */
const FILES: Record<string, string> = Object.fromEntries(
  ["f1.txt", "f2.bin", "d/f3.txt", "d/f4.bin", "f5.txt", "d/e/f6.txt", "f7.bin"].map((p, i) => [p, `${p} content ${i}\n`.repeat(1 + i * 997)]),
);



/** No byte lost: each file is in the volume, or at the destination, byte for byte; an offloaded row is never still local. */
function nothingLost(w: World): void {
  for (const [rel, c] of Object.entries(FILES)) {
    const here = local(w, rel);
    if (here !== null) expect({ rel, here }).toEqual({ rel, here: c });
    else expect({ rel, there: remote(w, rel) }).toEqual({ rel, there: c });
  }
  for (const r of rows<{ path: string }>(w, "SELECT path FROM files WHERE volume = 'photos' AND status = 'offloaded'")) {
    expect(local(w, r.path)).toBeNull();
    expect(remote(w, r.path)).toBe(FILES[r.path]!);
  }
}

const CASES: [string, number][] = [
  ["offload.confirm", 1],
  ["offload.confirm", 3],
  ["offload.batch", 1],
  ["offload.batch", 3],
  ["offload.unlink", 1],
  ["offload.unlink", 4],
  ["offload.unlink", 7],
];

describe("offload killed at a checkpoint (HOARD_OFFLOAD_BATCH=2, seven files)", () => {
  for (const [checkpoint, n] of CASES)
    test.concurrent(`${checkpoint}:${n}`, async () => {
      const w = await syncedWorld({ files: FILES });
      w.env.HOARD_OFFLOAD_BATCH = "2";
      const crashed = await runRaw(w, { HOARD_TEST_CRASH_AT: `${checkpoint}:${n}` }, "offload", "photos", ".", "--json");
      expect({ code: crashed.code, signal: crashed.signal, stderr: crashed.stderr }).toEqual({ code: null, signal: "SIGKILL", stderr: expect.any(String) });
      expect(crashed.stdout).toBe("");
      const run = row(w, "SELECT id, status FROM runs WHERE kind = 'offload' ORDER BY id DESC LIMIT 1")!;
      expect(run.status).toBe("running"); // died without finishing its run
      nothingLost(w);

      // the next index reaps the dead run and sees what is gone; the next offload completes
      code(await w.hoardAsync("index", "photos"), 0);
      expect(row(w, "SELECT status FROM runs WHERE id = ?", run.id)!.status).toBe("aborted");
      nothingLost(w);
      code(await w.hoardAsync("offload", "photos", ".", "--json"), 0);
      nothingLost(w);
      for (const rel of Object.keys(FILES)) expect({ rel, local: local(w, rel) }).toEqual({ rel, local: null });

      // every byte comes back (files the crash left unlinked but still `present` are `missing` now)
      code(await w.hoardAsync("restore", "photos", "--missing"), 0);
      for (const [rel, c] of Object.entries(FILES)) expect({ rel, local: local(w, rel) }).toEqual({ rel, local: c });
      expect(rows(w, "SELECT path FROM files WHERE volume = 'photos' AND status <> 'superseded' AND status <> 'present'")).toEqual([]);
    });
});
