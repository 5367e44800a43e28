// Restore killed (SIGKILL, like a power cut) at restore.fetch and restore.rename: no byte is lost, the
// next index reaps the run and removes the temp file, a re-run restores everything, and a round trip works.

import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, lstatSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { hoardCommand, type World } from "../helpers.ts";
import { hashBytes } from "../../src/kernel/hash.ts";
import { cleanupWorlds, code, row, rows, syncedWorld } from "../e2e/lib.ts";
import { live, local, remoteAt, runRaw, tempsIn, tree, type Live } from "./lib.ts";
const remote = (w: World, rel: string) => remoteAt(w, "nas", rel);
const temps = (w: World) => tempsIn(w.path("vol"));

// every test drives several real hoard processes; the machine may be busy
setDefaultTimeout(300_000);
afterAll(cleanupWorlds);

/** Five files of different sizes, three of them in subdirectories. */
const FILES: Record<string, string> = Object.fromEntries(
  ["r1.txt", "d/r2.bin", "d/r3.txt", "d/e/r4.txt", "r5.bin"].map((p, i) => [p, `${p} restore ${i}\n`.repeat(1 + i * 1531)]),
);





/** No byte lost: each file is in the volume or at the destination, byte for byte. */
function nothingLost(w: World): void {
  for (const [rel, c] of Object.entries(FILES)) {
    const here = local(w, rel);
    if (here !== null) expect({ rel, here }).toEqual({ rel, here: c });
    else expect({ rel, there: remote(w, rel) }).toEqual({ rel, there: c });
  }
}

/** Every row agrees with the disk; no row names a hoard temp file. */
function rowsAgree(w: World): void {
  for (const r of live(w)) {
    const c = FILES[r.path];
    expect({ path: r.path, known: c !== undefined }).toEqual({ path: r.path, known: true });
    expect({ path: r.path, blake3: r.blake3 }).toEqual({ path: r.path, blake3: hashBytes(Buffer.from(c!)) });
    const here = local(w, r.path);
    if (r.status === "present") {
      expect({ path: r.path, file: lstatSync(w.path(`vol/${r.path}`)).isFile(), size: Number(r.size) }).toEqual({ path: r.path, file: true, size: Buffer.byteLength(c!) });
      expect({ path: r.path, here }).toEqual({ path: r.path, here: c! });
    } else if (r.status === "missing") expect({ path: r.path, here }).toEqual({ path: r.path, here: null });
    // offloaded: the index never flips these; a file there must be the recorded bytes (a restore placed it)
    else expect({ path: r.path, status: r.status, here: here === null || here === c }).toEqual({ path: r.path, status: "offloaded", here: true });
  }
  expect(rows(w, "SELECT path FROM files WHERE path GLOB '.hoard-*' OR path GLOB '*/.hoard-*'")).toEqual([]);
}

/** The files of the restore history (an identical kept file is dropped, so none is expected). */
const historyFiles = (w: World) => (existsSync(w.path("vol/.hoard/restore-history")) ? tree(w.path("vol/.hoard/restore-history")).filter((e) => e.file) : []);

const CASES: [string, number][] = [
  ["restore.fetch", 1],
  ["restore.fetch", 2],
  ["restore.fetch", 5],
  ["restore.rename", 1],
  ["restore.rename", 2],
  ["restore.rename", 5],
];

describe("restore of an offloaded volume killed at a checkpoint (five files)", () => {
  for (const [checkpoint, n] of CASES)
    test.concurrent(`${checkpoint}:${n}`, async () => {
      const w = await syncedWorld({ files: FILES });
      expect(code(await w.hoardAsync("offload", "photos", ".", "--json"), 0).json.counts.offloaded).toBe(5);
      const crashed = await runRaw(w, { HOARD_TEST_CRASH_AT: `${checkpoint}:${n}` }, "restore", "photos", "--json");
      expect({ code: crashed.code, signal: crashed.signal }).toEqual({ code: null, signal: "SIGKILL" });
      expect(crashed.stdout).toBe("");
      const run = row(w, "SELECT id, status FROM runs WHERE kind = 'restore' ORDER BY id DESC LIMIT 1")!;
      expect(run.status).toBe("running"); // died without finishing its run
      nothingLost(w);

      // the state the kill left: n-1 files done; the n-th fetched beside its target (fetch) or placed (rename)
      const st = live(w);
      const here = Object.keys(FILES).filter((p) => local(w, p) !== null);
      expect(st.filter((r) => r.status === "present").length).toBe(n - 1);
      expect(st.filter((r) => r.status === "offloaded").length).toBe(6 - n);
      const left = temps(w);
      if (checkpoint === "restore.fetch") {
        expect(here.length).toBe(n - 1);
        expect(left.length).toBe(1);
        const bytes = readFileSync(w.path(`vol/${left[0]!.rel}`), "utf8");
        const which = st.find((r) => r.status === "offloaded" && hashBytes(Buffer.from(bytes)) === r.blake3);
        expect(which).toBeDefined(); // the temp holds one offloaded file's checked bytes
        expect(left[0]!.rel.split("/").slice(0, -1).join("/")).toBe(which!.path.split("/").slice(0, -1).join("/")); // beside its target
      } else {
        expect(here.length).toBe(n);
        expect(left).toEqual([]);
        const placed = st.filter((r) => r.status === "offloaded" && local(w, r.path) !== null);
        expect(placed.length).toBe(1); // placed, the row not flipped yet
      }

      // the next index reaps the dead run and removes the temp; no row claims what the disk contradicts
      const idx = code(await w.hoardAsync("index", "photos", "--json"), 0);
      expect(idx.json.counts.leftovers_removed).toBe(checkpoint === "restore.fetch" ? 1 : 0);
      // a file the dead run had placed byte-exact: its row is present again (reappeared), no conflict
      expect(idx.json.counts.offloaded_conflicts).toBe(0);
      expect(idx.json.counts.reappeared).toBe(checkpoint === "restore.rename" ? 1 : 0);
      expect(row(w, "SELECT status, note FROM runs WHERE id = ?", run.id)).toEqual({ status: "aborted", note: expect.stringContaining("reaped") });
      expect(temps(w)).toEqual([]);
      rowsAgree(w);
      nothingLost(w);
      // the fetch area under the data dir holds no bytes of the dead run
      if (existsSync(w.path("data/restore-tmp"))) expect(tree(w.path("data/restore-tmp")).filter((e) => e.file)).toEqual([]);

      // a re-run completes: every remaining file comes back, an identical placed file is not "kept"
      const again = code(await w.hoardAsync("restore", "photos", "--json"), 0);
      expect(again.json.counts).toMatchObject({ restored: checkpoint === "restore.rename" ? 5 - n : 6 - n, failed: 0, no_source: 0, kept_existing: 0 });
      expect(again.json.kept).toEqual([]);
      // the dead run's private fetch directory is gone too (the re-run removes those of runs not running)
      expect(readdirSync(w.path("data/restore-tmp"))).toEqual([]);
      expect(historyFiles(w)).toEqual([]);
      for (const [rel, c] of Object.entries(FILES)) expect({ rel, local: local(w, rel) }).toEqual({ rel, local: c });
      expect(live(w).map((r) => r.status)).toEqual(Array(5).fill("present"));
      rowsAgree(w);
      expect(temps(w)).toEqual([]);

      // a following sync → offload → restore round trip is byte-exact
      code(await w.hoardAsync("sync", "photos"), 0);
      expect(code(await w.hoardAsync("offload", "photos", ".", "--json"), 0).json.counts.offloaded).toBe(5);
      for (const rel of Object.keys(FILES)) expect({ rel, local: local(w, rel) }).toEqual({ rel, local: null });
      nothingLost(w);
      expect(code(await w.hoardAsync("restore", "photos", "--json"), 0).json.counts.restored).toBe(5);
      for (const [rel, c] of Object.entries(FILES)) expect({ rel, local: local(w, rel) }).toEqual({ rel, local: c });
      rowsAgree(w);
      expect(temps(w)).toEqual([]);
    });
});

/** A world with FILES offloaded and a different file (an "intruder") written at each of the first two targets. */
async function intrudedWorld(): Promise<{ w: World; intruders: Record<string, string> }> {
  const w = await syncedWorld({ files: FILES });
  expect(code(await w.hoardAsync("offload", "photos", ".", "--json"), 0).json.counts.offloaded).toBe(5);
  const first = Object.keys(FILES).sort().slice(0, 2); // restore goes in path order
  const intruders = Object.fromEntries(first.map((p) => [p, `a different ${p}, written after the offload\n`]));
  for (const [p, c] of Object.entries(intruders)) w.write(`vol/${p}`, c);
  return { w, intruders };
}
const historyTexts = (w: World) => historyFiles(w).map((e) => readFileSync(w.path(`vol/.hoard/restore-history/${e.rel}`), "utf8"));

test.concurrent("restore.rename:1 over a different file: its bytes stay under .hoard/restore-history, the re-run restores everything", async () => {
  const { w, intruders } = await intrudedWorld();
  const crashed = await runRaw(w, { HOARD_TEST_CRASH_AT: "restore.rename:1" }, "restore", "photos", "--json");
  expect({ code: crashed.code, signal: crashed.signal }).toEqual({ code: null, signal: "SIGKILL" });
  const [p1, p2] = Object.keys(intruders);
  expect(local(w, p1!)).toBe(FILES[p1!]!); // placed; the intruder moved aside by the dead run
  expect(local(w, p2!)).toBe(intruders[p2!]!);
  expect(historyTexts(w)).toEqual([intruders[p1!]!]);

  // the placed original's row is present again (its bytes are back); the second intruder is reported, not indexed
  const idx = code(await w.hoardAsync("index", "photos", "--json"), 0);
  expect(idx.json.counts).toMatchObject({ offloaded_conflicts: 1, reappeared: 1 });
  expect(live(w).map((r) => r.status).sort()).toEqual(["offloaded", "offloaded", "offloaded", "offloaded", "present"]);
  expect(temps(w)).toEqual([]);
  const again = code(await w.hoardAsync("restore", "photos", "--json"), 0);
  expect(again.json.counts).toMatchObject({ restored: 4, failed: 0 });
  for (const [rel, c] of Object.entries(FILES)) expect({ rel, local: local(w, rel) }).toEqual({ rel, local: c });
  // no byte lost: both different files are kept, byte for byte
  expect(historyTexts(w).sort()).toEqual(Object.values(intruders).sort());
  expect(again.json.kept.map((k: { path: string }) => k.path)).toContain(p2!);
  rowsAgree(w);
});

// Found by this harness: status lists what restores kept aside, a killed run's included.
test.concurrent("restore.rename:1 over a different file: the file the dead run kept aside is reported to the user", async () => {
  const { w, intruders } = await intrudedWorld();
  const crashed = await runRaw(w, { HOARD_TEST_CRASH_AT: "restore.rename:1" }, "restore", "photos", "--json");
  expect(crashed.signal).toBe("SIGKILL");
  code(await w.hoardAsync("index", "photos"), 0);
  const again = code(await w.hoardAsync("restore", "photos", "--json"), 0);
  const status = code(await w.hoardAsync("status", "photos", "--json"), 0);
  // every different file moved aside is named somewhere the user looks: the re-run's kept list or status
  const said = JSON.stringify(again.json.kept) + JSON.stringify(status.json);
  for (const p of Object.keys(intruders)) expect({ p, reported: new RegExp(`restore-history/run-[^"]*/${p}"`).test(said) }).toEqual({ p, reported: true });
});

// Found by this harness; needs a change in src/ops/indexing.ts (not owned here): the index leaves it for a re-run of restore.
test.concurrent("restore.rename:1: the next index repairs the offloaded row of a file the dead run already placed byte-exact", async () => {
  const w = await syncedWorld({ files: FILES });
  code(await w.hoardAsync("offload", "photos", "."), 0);
  const crashed = await runRaw(w, { HOARD_TEST_CRASH_AT: "restore.rename:1" }, "restore", "photos", "--json");
  expect(crashed.signal).toBe("SIGKILL");
  code(await w.hoardAsync("index", "photos"), 0);
  for (const r of live(w)) expect({ path: r.path, status: r.status }).toEqual({ path: r.path, status: local(w, r.path) === null ? "offloaded" : "present" });
});

describe("restore killed at a checkpoint, then re-run at once (no index in between)", () => {
  for (const [checkpoint, n] of [["restore.fetch", 2], ["restore.rename", 2]] as [string, number][])
    test.concurrent(`${checkpoint}:${n}`, async () => {
      const w = await syncedWorld({ files: FILES });
      code(await w.hoardAsync("offload", "photos", "."), 0);
      const crashed = await runRaw(w, { HOARD_TEST_CRASH_AT: `${checkpoint}:${n}` }, "restore", "photos", "--json");
      expect({ code: crashed.code, signal: crashed.signal }).toEqual({ code: null, signal: "SIGKILL" });
      const run = row(w, "SELECT id FROM runs WHERE kind = 'restore' ORDER BY id DESC LIMIT 1")!;

      // the re-run reaps the dead run and restores the rest; an identical placed file is not "kept"
      const again = code(await w.hoardAsync("restore", "photos", "--json"), 0);
      expect(row(w, "SELECT status, note FROM runs WHERE id = ?", run.id)).toEqual({ status: "aborted", note: expect.stringContaining("reaped by a later restore") });
      expect(again.json.counts).toMatchObject({ restored: 6 - n, failed: 0, kept_existing: 0 });
      expect(historyFiles(w)).toEqual([]);
      for (const [rel, c] of Object.entries(FILES)) expect({ rel, local: local(w, rel) }).toEqual({ rel, local: c });
      rowsAgree(w);
      // the dead run's temp (fetch) is still there: the next index removes it, and indexes nothing of it
      expect(temps(w).length).toBe(checkpoint === "restore.fetch" ? 1 : 0);
      const idx = code(await w.hoardAsync("index", "photos", "--json"), 0);
      expect(idx.json.counts).toMatchObject({ leftovers_removed: checkpoint === "restore.fetch" ? 1 : 0, new: 0, changed: 0, unchanged: 5 });
      expect(temps(w)).toEqual([]);
      rowsAgree(w);
    });
});
