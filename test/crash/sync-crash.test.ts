// Sync killed (SIGKILL, like a power cut) at sync.push and sync.record, at the first and the second of two
// destinations: nothing is lost or granted, the next index reaps the run, a re-run and a round trip work.

import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, lstatSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hoardCommand, type World } from "../helpers.ts";
import { hashBytes } from "../../src/kernel/hash.ts";
import { asyncFsWorld, cleanupWorlds, code, row, rows } from "../e2e/lib.ts";
import { live, local, remoteAt, runRaw, tempsIn, tree, type Live } from "./lib.ts";
const remote = remoteAt;
const temps = tempsIn;

// every test drives several real hoard processes; the machine may be busy
setDefaultTimeout(300_000);
afterAll(cleanupWorlds);

const body = (p: string, i: number, tag: string) => `${p} ${tag} ${i}\n`.repeat(1 + i * 1123);
/** Synced before the crash: four files; s1.txt is offloaded and d/s2.bin changes before the armed sync. */
const OLD: Record<string, string> = Object.fromEntries(["s1.txt", "d/s2.bin", "d/s3.txt", "d/e/s4.txt"].map((p, i) => [p, body(p, i, "old")]));
/** Written and indexed after the first sync: never pushed before the crash. */
const NEW: Record<string, string> = Object.fromEntries(["n1.txt", "d/n2.bin", "d/e/n3.txt", "n/n4.txt"].map((p, i) => [p, body(p, i, "new")]));
const CHANGED = "d/s2.bin";
const OFFLOADED = "s1.txt";
/** Every file's bytes as the user last wrote them. */
const ALL: Record<string, string> = { ...OLD, [CHANGED]: body(CHANGED, 9, "changed"), ...NEW };
const DESTS = ["nas", "usb"];




/** No byte lost: each file is in the volume byte for byte, or (offloaded) at every destination. */
function nothingLost(w: World): void {
  for (const [rel, c] of Object.entries(ALL)) {
    const here = local(w, rel);
    if (here !== null) expect({ rel, here }).toEqual({ rel, here: c });
    else for (const d of DESTS) expect({ rel, d, there: remote(w, d, rel) }).toEqual({ rel, d, there: c });
  }
}

/** Every row agrees with the disk (present: there, with its size and bytes; offloaded: not there); no temp rows. */
function rowsAgree(w: World): void {
  const st = live(w);
  expect(st.map((r) => r.path).sort()).toEqual(Object.keys(ALL).sort());
  for (const r of st) {
    const c = ALL[r.path]!;
    expect({ path: r.path, blake3: r.blake3 }).toEqual({ path: r.path, blake3: hashBytes(Buffer.from(c)) });
    if (r.status === "present") {
      expect({ path: r.path, file: lstatSync(w.path(`vol/${r.path}`)).isFile(), size: Number(r.size), here: local(w, r.path) }).toEqual({ path: r.path, file: true, size: Buffer.byteLength(c), here: c });
    } else expect({ path: r.path, status: r.status, here: local(w, r.path) }).toEqual({ path: r.path, status: "offloaded", here: null });
  }
  expect(rows(w, "SELECT path FROM files WHERE path GLOB '.hoard-*' OR path GLOB '*/.hoard-*'")).toEqual([]);
}

const CASES: [string, number][] = [
  ["sync.push", 1],
  ["sync.push", 2],
  ["sync.record", 1],
  ["sync.record", 2],
];

describe("sync of new and changed files killed at a checkpoint (destinations nas, then usb)", () => {
  for (const [checkpoint, n] of CASES)
    test.concurrent(`${checkpoint}:${n}`, async () => {
      const w = await asyncFsWorld({ files: OLD, extraDests: ["usb"], require: DESTS });
      code(await w.hoardAsync("index", "photos"), 0);
      code(await w.hoardAsync("sync", "photos"), 0);
      expect(code(await w.hoardAsync("offload", "photos", OFFLOADED, "--json"), 0).json.counts.offloaded).toBe(1);
      for (const [rel, c] of Object.entries(NEW)) w.write(`vol/${rel}`, c);
      writeFileSync(w.path(`vol/${CHANGED}`), ALL[CHANGED]!);
      const idx0 = code(await w.hoardAsync("index", "photos", "--json"), 0);
      expect(idx0.json.counts).toMatchObject({ new: 4, changed: 1 });

      const crashed = await runRaw(w, { HOARD_TEST_CRASH_AT: `${checkpoint}:${n}` }, "sync", "photos", "--json");
      expect({ code: crashed.code, signal: crashed.signal }).toEqual({ code: null, signal: "SIGKILL" });
      expect(crashed.stdout).toBe("");
      const dead = DESTS[n - 1]!;
      const runs = rows(w, "SELECT id, destination, status FROM runs WHERE kind = 'sync' ORDER BY id DESC LIMIT ?", n);
      expect(runs.map((r) => [r.destination, r.status]).reverse()).toEqual(n === 1 ? [["nas", "running"]] : [["nas", "success"], ["usb", "running"]]);
      const run = runs[0]!;
      nothingLost(w);
      rowsAgree(w);

      // the dead run pushed (record) or not (push), but recorded nothing: no object record, no evidence
      for (const rel of [...Object.keys(NEW), CHANGED])
        expect({ rel, there: remote(w, dead, rel) }).toEqual({ rel, there: checkpoint === "sync.record" ? ALL[rel]! : rel === CHANGED ? OLD[CHANGED]! : null });
      expect(rows(w, "SELECT path FROM dest_objects WHERE run = ? OR checked_run = ?", run.id, run.id)).toEqual([]);
      for (const d of DESTS) expect(temps(w.path(d))).toEqual([]);
      // so nothing new may be offloaded: only the old unchanged files that were verified at both
      const dry = code(await w.hoardAsync("offload", "photos", ".", "--dry-run", "--json"), 0);
      expect(dry.json.counts.offloadable).toBe(2);

      // the next index reaps the dead run; rows agree with the disk; no temp file anywhere
      code(await w.hoardAsync("index", "photos"), 0);
      expect(row(w, "SELECT status, note FROM runs WHERE id = ?", run.id)).toEqual({ status: "aborted", note: expect.stringContaining("reaped") });
      rowsAgree(w);
      nothingLost(w);
      expect(temps(w.path("vol"))).toEqual([]);

      // a re-run completes and checks what the dead run never recorded
      const again = code(await w.hoardAsync("sync", "photos", "--json"), 0);
      const atDead = again.json.results.find((r: any) => r.destination === dead);
      expect(atDead.status).toBe("success");
      expect(atDead.counts.failed).toBe(0);
      expect(atDead.counts.checked).toBeGreaterThanOrEqual(5); // the four new files and the changed one
      for (const d of DESTS) for (const [rel, c] of Object.entries(ALL)) expect({ d, rel, there: remote(w, d, rel) }).toEqual({ d, rel, there: c });

      // a following offload → restore round trip is byte-exact
      expect(code(await w.hoardAsync("offload", "photos", ".", "--json"), 0).json.counts.offloaded).toBe(Object.keys(ALL).length - 1);
      for (const rel of Object.keys(ALL)) expect({ rel, local: local(w, rel) }).toEqual({ rel, local: null });
      nothingLost(w);
      expect(code(await w.hoardAsync("restore", "photos", "--json"), 0).json.counts.restored).toBe(Object.keys(ALL).length);
      for (const [rel, c] of Object.entries(ALL)) expect({ rel, local: local(w, rel) }).toEqual({ rel, local: c });
      rowsAgree(w);
      expect(temps(w.path("vol"))).toEqual([]);
      code(await w.hoardAsync("sync", "photos"), 0);
    });
});

test.concurrent("sync.record:1, then the same sync at once (no index in between): the re-run reaps the dead run and checks everything new", async () => {
  const w = await asyncFsWorld({ files: OLD, extraDests: ["usb"], require: DESTS });
  code(await w.hoardAsync("index", "photos"), 0);
  code(await w.hoardAsync("sync", "photos"), 0);
  for (const [rel, c] of Object.entries(NEW)) w.write(`vol/${rel}`, c);
  writeFileSync(w.path(`vol/${CHANGED}`), ALL[CHANGED]!);
  code(await w.hoardAsync("index", "photos"), 0);
  const crashed = await runRaw(w, { HOARD_TEST_CRASH_AT: "sync.record:1" }, "sync", "photos", "--to", "nas", "--json");
  expect({ code: crashed.code, signal: crashed.signal }).toEqual({ code: null, signal: "SIGKILL" });
  const run = row(w, "SELECT id, status FROM runs WHERE kind = 'sync' ORDER BY id DESC LIMIT 1")!;
  expect(run.status).toBe("running");
  const again = code(await w.hoardAsync("sync", "photos", "--to", "nas", "--json"), 0);
  expect(row(w, "SELECT status, note FROM runs WHERE id = ?", run.id)).toEqual({ status: "aborted", note: expect.stringContaining("reaped by a later sync") });
  // the bytes the dead run pushed are content-checked now (its receipts settle nothing unrecorded)
  expect(again.json.results[0].counts).toMatchObject({ failed: 0, transferred: 0 });
  expect(again.json.results[0].counts.checked).toBeGreaterThanOrEqual(5);
  const recorded = rows(w, "SELECT path FROM dest_objects WHERE destination = 'nas' AND ok = 1 AND checked_run = ? ORDER BY path", again.json.results[0].run_id);
  for (const p of [...Object.keys(NEW), CHANGED]) expect(recorded.map((r) => r.path)).toContain(p);
  code(await w.hoardAsync("sync", "photos", "--to", "usb"), 0);
  expect(code(await w.hoardAsync("offload", "photos", ".", "--json"), 0).json.counts.offloaded).toBe(Object.keys(ALL).length);
  expect(code(await w.hoardAsync("restore", "photos", "--json"), 0).json.counts.restored).toBe(Object.keys(ALL).length);
  for (const [rel, c] of Object.entries(ALL)) expect({ rel, local: local(w, rel) }).toEqual({ rel, local: c });
  rowsAgree(w);
});
