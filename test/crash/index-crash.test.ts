// Index killed (SIGKILL, like a power cut) at index.walk and index.record, over trees of more than one
// record batch: nothing lost, the re-run reaps the run and repairs every row, a round trip works.

import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hoardCommand, type World } from "../helpers.ts";
import { hashBytes } from "../../src/kernel/hash.ts";
import { asyncFsWorld, cleanupWorlds, code, row, rows } from "../e2e/lib.ts";
import { live, local, remoteAt, runRaw, tempsIn, tree, type Live } from "./lib.ts";
const remote = (w: World, rel: string) => remoteAt(w, "nas", rel);
const temps = (w: World) => tempsIn(w.path("vol"));

// every test drives several real hoard processes over thousands of files; the machine may be busy
setDefaultTimeout(600_000);
afterAll(cleanupWorlds);

/** Rows recorded per batch here (HOARD_INDEX_BATCH): 41 files make two record passes (40, then 1). */
const COUNT = 41;
const BATCH = 40;
/** A world for these tests: its hoard records BATCH rows per transaction. */
async function batchedWorld(o: Parameters<typeof asyncFsWorld>[0]) {
  const w = await asyncFsWorld(o);
  w.env.HOARD_INDEX_BATCH = String(BATCH);
  return w;
}
const MANY: Record<string, string> = Object.fromEntries(Array.from({ length: COUNT }, (_, i) => [`d${i % 16}/f${String(i).padStart(4, "0")}.txt`, `indexed file ${i}\n`.repeat(1 + (i % 7))]));




/**
 * No byte lost: every file the user has is in the volume byte for byte (`here`), and every file the user
 * deleted after a sync is at the destination (`gone`).
 */
function nothingLost(w: World, here: Record<string, string>, gone: Record<string, string> = {}): void {
  const bad: string[] = [];
  for (const [rel, c] of Object.entries(here)) if (local(w, rel) !== c && remote(w, rel) !== c) bad.push(`${rel}: lost`);
  for (const [rel, c] of Object.entries(gone)) if (remote(w, rel) !== c) bad.push(`${rel}: not at the destination`);
  expect(bad).toEqual([]);
}

/** Every live row agrees with the disk: present (there, its size and BLAKE3), missing (not there), offloaded (not there). */
function rowsAgree(w: World, expected: Record<string, string>, missing: string[] = []): void {
  const bad: string[] = [];
  const st = live(w);
  const want = new Set([...Object.keys(expected), ...missing]);
  for (const r of st) {
    if (!want.delete(r.path)) bad.push(`${r.path}: unexpected row`);
    const here = local(w, r.path);
    if (r.status === "present") {
      const c = expected[r.path];
      if (here === null || c === undefined) bad.push(`${r.path}: present row, no file`);
      else if (here !== c || r.blake3 !== hashBytes(Buffer.from(c)) || Number(r.size) !== lstatSync(w.path(`vol/${r.path}`)).size) bad.push(`${r.path}: present row disagrees with the disk`);
    } else if (here !== null) bad.push(`${r.path}: ${r.status} row, but a file is there`);
    if (r.status === "missing" && !missing.includes(r.path)) bad.push(`${r.path}: missing`);
  }
  for (const p of want) bad.push(`${p}: no row`);
  expect(bad).toEqual([]);
  expect(rows(w, "SELECT path FROM files WHERE path GLOB '.hoard-*' OR path GLOB '*/.hoard-*'")).toEqual([]);
}

/** sync → offload → restore (--missing also brings back files deleted by hand): every byte comes back. */
async function roundTrip(w: World, expected: Record<string, string>, missing: Record<string, string> = {}): Promise<void> {
  code(await w.hoardAsync("sync", "photos"), 0);
  const off = code(await w.hoardAsync("offload", "photos", ".", "--json"), 0);
  expect(off.json.counts.offloaded).toBe(Object.keys(expected).length);
  expect(tree(w.path("vol")).filter((e) => e.file && !e.rel.startsWith(".hoard"))).toEqual([]);
  nothingLost(w, expected, missing);
  const back = code(await w.hoardAsync("restore", "photos", "--missing", "--json"), 0);
  expect(back.json.counts.restored).toBe(Object.keys(expected).length + Object.keys(missing).length);
  const all = { ...expected, ...missing };
  const bad = Object.entries(all).filter(([rel, c]) => local(w, rel) !== c).map(([rel]) => rel);
  expect(bad).toEqual([]);
  rowsAgree(w, all);
  expect(temps(w)).toEqual([]);
}

describe(`first index of ${COUNT} files (two record batches), with two leftover temp files, killed at a checkpoint`, () => {
  const CASES: [string, number, number, boolean][] = [
    // checkpoint, N, rows recorded when it dies (the walk records each batch it fills), leftovers still there
    ["index.record", 1, BATCH, true],
    ["index.walk", 1, BATCH, true],
    ["index.record", 2, COUNT, false],
  ];
  for (const [checkpoint, n, recorded, leftoversLeft] of CASES)
    test.concurrent(`${checkpoint}:${n}`, async () => {
      const w = await batchedWorld({ files: MANY });
      // hoard temp names left by an earlier interrupted run: never indexed, removed by a completed index
      const leftovers = [`d3/.hoard-restore-${randomUUID()}`, `.hoard-tmp-${randomUUID()}`];
      for (const l of leftovers) w.write(`vol/${l}`, "half-written bytes of an interrupted run\n");

      const crashed = await runRaw(w, { HOARD_TEST_CRASH_AT: `${checkpoint}:${n}` }, "index", "photos", "--json");
      expect({ code: crashed.code, signal: crashed.signal }).toEqual({ code: null, signal: "SIGKILL" });
      expect(crashed.stdout).toBe("");
      const run = row(w, "SELECT id, status FROM runs WHERE kind = 'index' ORDER BY id DESC LIMIT 1")!;
      expect(run.status).toBe("running");
      nothingLost(w, MANY);
      // the batches before the kill are recorded, whole; each recorded row agrees with the disk
      const st = live(w);
      expect(st.length).toBe(recorded);
      rowsAgree(w, Object.fromEntries(st.map((r) => [r.path, MANY[r.path]!])));
      // leftovers go after the walk: still there when killed in it or right after it, gone by the last record
      expect(temps(w).map((e) => e.rel).sort()).toEqual(leftoversLeft ? [...leftovers].sort() : []);

      // the re-run completes, reaps the dead run, records the rest, removes the leftovers
      const again = code(await w.hoardAsync("index", "photos", "--json"), 0);
      expect(row(w, "SELECT status, note FROM runs WHERE id = ?", run.id)).toEqual({ status: "aborted", note: expect.stringContaining("reaped") });
      expect(again.json.counts).toMatchObject({ files: COUNT, new: COUNT - recorded, unchanged: recorded, missing: 0, errors: 0, leftovers_removed: leftoversLeft ? 2 : 0 });
      rowsAgree(w, MANY);
      expect(temps(w)).toEqual([]);
      nothingLost(w, MANY);
      await roundTrip(w, MANY);
    });
});

describe(`re-index of ${COUNT} synced files after deletes, changes and additions, killed at a checkpoint`, () => {
  const keys = Object.keys(MANY);
  const DELETED = [keys[5]!, keys[22]!, keys[40]!];
  const CHANGED = [keys[7]!, keys[39]!];
  const ADDED = ["new/a.txt", "d1/zz-added.txt"];
  const NOW: Record<string, string> = { ...MANY };
  for (const p of DELETED) delete NOW[p];
  for (const p of CHANGED) NOW[p] = `changed ${p}\n`;
  for (const p of ADDED) NOW[p] = `added ${p}\n`;
  const GONE = Object.fromEntries(DELETED.map((p) => [p, MANY[p]!]));

  // (a re-index killed at index.walk has recorded the batches the walk filled, like index.record:1)
  for (const [checkpoint, n] of [["index.record", 1], ["index.record", 2]] as [string, number][])
    test.concurrent(`${checkpoint}:${n}`, async () => {
      const w = await batchedWorld({ files: MANY });
      code(await w.hoardAsync("index", "photos"), 0);
      code(await w.hoardAsync("sync", "photos"), 0);
      for (const p of DELETED) rmSync(w.path(`vol/${p}`));
      for (const p of CHANGED) writeFileSync(w.path(`vol/${p}`), NOW[p]!);
      for (const p of ADDED) w.write(`vol/${p}`, NOW[p]!);

      const crashed = await runRaw(w, { HOARD_TEST_CRASH_AT: `${checkpoint}:${n}` }, "index", "photos", "--json");
      expect({ code: crashed.code, signal: crashed.signal }).toEqual({ code: null, signal: "SIGKILL" });
      const run = row(w, "SELECT id, status FROM runs WHERE kind = 'index' ORDER BY id DESC LIMIT 1")!;
      expect(run.status).toBe("running");
      nothingLost(w, NOW, GONE);
      // killed before `missing` is written: the deleted files' rows still say present (the next index repairs them)
      expect(rows(w, `SELECT status FROM files WHERE volume = 'photos' AND status <> 'superseded' AND path IN (${DELETED.map(() => "?").join(",")})`, ...DELETED).map((r) => r.status)).toEqual(["present", "present", "present"]);
      if (checkpoint === "index.record" && n === 2) {
        // every batch recorded: the changes and additions are in, nothing else moved
        const st = Object.fromEntries(live(w).map((r) => [r.path, r]));
        for (const p of [...CHANGED, ...ADDED]) expect({ p, blake3: st[p]?.blake3, status: st[p]?.status }).toEqual({ p, blake3: hashBytes(Buffer.from(NOW[p]!)), status: "present" });
      }

      // the re-run reaps the dead run and repairs every row: the deleted files are missing, the rest agree
      const again = code(await w.hoardAsync("index", "photos", "--json"), 0);
      expect(row(w, "SELECT status, note FROM runs WHERE id = ?", run.id)).toEqual({ status: "aborted", note: expect.stringContaining("reaped") });
      expect(again.json.counts).toMatchObject({ files: COUNT - DELETED.length + ADDED.length, missing: DELETED.length, errors: 0 });
      rowsAgree(w, NOW, DELETED);
      expect(live(w).filter((r) => r.status === "missing").map((r) => r.path).sort()).toEqual([...DELETED].sort());
      expect(temps(w)).toEqual([]);
      nothingLost(w, NOW, GONE);
      await roundTrip(w, NOW, GONE);
    });
});
