// rclone destinations end to end through the hoard CLI, with a local-path remote and the real
// rclone: the round trip, `hoard doctor`, path agreement (issue 4 item 5), a lying rclone that
// copies nothing, and files lost or corrupted at the destination after an offload (alarms).

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { cpSync, existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FAKE_RCLONE } from "../rclone/harness.ts";
import { stopped } from "../helpers.ts";
import { STREAM_MIN } from "../../plugins/rclone/index.ts";
import { DEFAULT_FILES, REAL_RCLONE, allStatus, cleanupWorlds, evidenceRow, flipBit, historyKinds, lastRun, liveStatus, preferredHash, rcloneWorld, row, rows, runId, sameFiles } from "./lib.ts";

// each test drives many hoard and rclone processes; the machine may be busy
setDefaultTimeout(240_000);
afterAll(cleanupWorlds);

const RCLONE_VERSION = /rclone v?(\d+\.\d+\.\d+\S*)/.exec(Bun.spawnSync([REAL_RCLONE, "version"]).stdout.toString())![1]!;
const ALL_PRESENT = allStatus(DEFAULT_FILES, "present");
const ALL_OFFLOADED = allStatus(DEFAULT_FILES, "offloaded");
const FILE_NAMES = Object.keys(DEFAULT_FILES).sort();

test.concurrent("local path: dest init → index → sync → offload → verify → restore round trip; evidence and doctor show the method", async () => {
  const w = await rcloneWorld({ dest: (w) => ({ remote: w.path("dest") }) });
  const marker = JSON.parse(readFileSync(w.path("dest/.hoard-destination"), "utf8"));
  expect(marker.type).toBe("rclone");
  expect(row(w, "SELECT identity FROM destinations WHERE name = 'r'")!.identity).toBe(marker.id);

  // doctor: rclone version, the destination's stored hashes, the chosen method, the identity
  const doc = await w.run(0, "doctor", "--json");
  expect(doc.json.destinations).toHaveLength(1);
  const d = doc.json.destinations[0];
  expect(d).toMatchObject({ name: "r", type: "rclone", warnings: [], identity: marker.id });
  expect(d.facts.rclone_version).toBe(RCLONE_VERSION);
  expect(d.facts.hashes).toEqual(expect.arrayContaining(["md5", "sha1", "sha256"]));
  const method = preferredHash(d.facts.hashes)!;
  expect(method).toBe("sha256");
  expect(d.facts).toMatchObject({ chosen: method, verify: "hash", remote: w.path("dest") });
  // large objects on a local path are read back into BLAKE3 instead (see the read-back test)
  expect(d.methods).toEqual([method, "blake3"]);
  expect(d.facts.read_back_from_bytes).toBe(32 * 1024 * 1024);

  const idx = runId(await w.run(0, "index", "photos", "--json"));
  const s = await w.run(0, "sync", "photos", "--json");
  const res = s.json.results[0];
  expect(res).toMatchObject({ destination: "r", status: "success", failures: [], alarms: [], warnings: [] });
  expect(res.counts).toMatchObject({ manifest: 3, verified: 3, failed: 0, transferred: 3 });
  expect(res.evidence).toEqual([expect.objectContaining({ origin_node: "testnode", origin_run: idx, method, result: "advanced" })]);
  sameFiles(w.path("dest/photos"), DEFAULT_FILES);
  expect(existsSync(w.path("dest/photos/.hoard-volume"))).toBe(false); // reserved names stay home

  const ev = await w.run(0, "evidence", "--json");
  expect(ev.json.evidence).toEqual([expect.objectContaining({ volume: "photos", destination: "r", origin_node: "testnode", origin_run: idx, method, confirmed_run: res.run_id, current_epoch: true, epoch: 1 })]);
  // the secondary digest is cached per content, computed once
  expect(rows(w, "SELECT algo FROM content_digests").map((r) => r.algo)).toEqual([method, method, method]);

  const off = await w.run(0, "offload", "photos", ".", "--json");
  expect(off.json.counts).toMatchObject({ selected: 3, offloaded: 3, refused: 0, errors: 0 });
  for (const f of FILE_NAMES) expect(existsSync(join(w.volPath, f))).toBe(false);
  expect(liveStatus(w)).toEqual(ALL_OFFLOADED);

  // offloaded files have no local bytes: verify compares the destination with the cached digests
  const ver = await w.run(0, "verify", "r", "--json");
  expect(ver.json.results[0]).toMatchObject({ status: "success", counts: { manifest: 3, verified: 3, failed: 0, alarms: 0 } });
  expect(ver.json.results[0].evidence[0]).toMatchObject({ method, origin_run: idx });
  expect(rows(w, "SELECT algo FROM content_digests")).toHaveLength(3);

  const rest = await w.run(0, "restore", "photos", "--json");
  expect(rest.json.counts).toMatchObject({ selected: 3, restored: 3, failed: 0, no_source: 0 });
  expect(rest.json.restored.map((r: any) => `${r.path}:${r.from}`).sort()).toEqual(FILE_NAMES.map((f) => `${f}:r`));
  sameFiles(w.volPath, DEFAULT_FILES);
  expect(liveStatus(w)).toEqual(ALL_PRESENT);
  // the restored tree is what the index recorded: a fresh index finds nothing changed
  const again = await w.run(0, "index", "photos", "--json");
  expect(again.json.counts).toMatchObject({ files: 3, new: 0, changed: 0, missing: 0, unchanged: 3 });
});

test.concurrent("path agreement: sync, verify, offload and restore refuse (exit 3) when the config path and the DB path disagree; nothing moves", async () => {
  const w = await rcloneWorld({ dest: (w) => ({ remote: w.path("dest") }) });
  await w.run(0, "index", "photos");
  await w.run(0, "sync", "photos");
  await w.run(0, "offload", "photos", "a.txt");
  expect(existsSync(join(w.volPath, "a.txt"))).toBe(false);

  // a copy of the volume (marker included) elsewhere, and the config edited to point at it
  const vol = w.volPath;
  const vol2 = w.path("vol2");
  cpSync(vol, vol2, { recursive: true });
  writeFileSync(join(vol2, "new.txt"), "only in the copy\n");
  w.volPath = vol2;
  w.writeConfig();
  const hist = historyKinds(w);
  const ev = evidenceRow(w)!;
  const runsBefore = rows(w, "SELECT id FROM runs").length;

  const attempts: [string, string[]][] = [
    ["sync", ["sync", "photos", "--json"]],
    ["verify", ["verify", "r", "photos", "--json"]],
    ["offload", ["offload", "photos", ".", "--json"]],
    ["restore", ["restore", "photos", "--json"]],
  ];
  for (const [kind, args] of attempts) {
    const r = await w.run(3, ...args);
    expect(r.json.error).toMatchObject({ code: "volume_path_mismatch", kind: "refused", details: { config: vol2, db: vol } });
    expect(lastRun(w, kind)!.status).toBe("refused"); // every invocation leaves a row
  }
  expect(rows(w, "SELECT id FROM runs").length).toBe(runsBefore + attempts.length);
  // nothing was pushed, deleted, restored or claimed
  expect(existsSync(w.path("dest/photos/new.txt"))).toBe(false);
  expect(readFileSync(join(vol2, "dir/b c.txt"), "utf8")).toBe("bravo with a space\n");
  expect(existsSync(join(vol2, "a.txt"))).toBe(false);
  expect(existsSync(join(vol, "a.txt"))).toBe(false);
  expect(historyKinds(w)).toEqual(hist);
  expect(evidenceRow(w)).toEqual(ev);

  // the other way round: the DB records vol2 (relocated) while the config says vol
  await w.run(0, "volume", "add", "photos", vol2, "--relocate");
  w.volPath = vol;
  w.writeConfig();
  const r = await w.run(3, "sync", "photos", "--to", "r", "--json");
  expect(r.json.error).toMatchObject({ code: "volume_path_mismatch", details: { config: vol, db: vol2 } });
  expect((await w.run(3, "restore", "photos", "--json")).json.error.code).toBe("volume_path_mismatch");
  expect(existsSync(w.path("dest/photos/new.txt"))).toBe(false);

  // all three agree again (config → vol2): the same sync now runs and pushes the copy's new file
  w.volPath = vol2;
  w.writeConfig();
  await w.run(0, "index", "photos");
  const ok = await w.run(0, "sync", "photos", "--json");
  expect(ok.json.results[0].counts).toMatchObject({ manifest: 4, verified: 4, failed: 0 });
  expect(readFileSync(w.path("dest/photos/new.txt"), "utf8")).toBe("only in the copy\n");
});

test.concurrent("a lying rclone (binary option) that exits 0 without copying: sync exits 4, evidence does not advance, offload refuses", async () => {
  const w = await rcloneWorld({
    dest: (w) => ({ remote: w.path("dest"), binary: FAKE_RCLONE }),
    env: { HOARD_FAKE_RCLONE_MODE: "nocopy", HOARD_FAKE_RCLONE_REAL: REAL_RCLONE },
  });
  const idx1 = runId(await w.run(0, "index", "photos", "--json"));

  const s = await w.run(4, "sync", "photos", "--json");
  const res = s.json.results[0];
  expect(res.status).toBe("partial");
  expect(res.counts).toMatchObject({ manifest: 3, verified: 0, failed: 3, transferred: 0 });
  for (const f of res.failures) expect(f.reason).toContain("missing at r");
  expect(res.evidence.every((e: any) => e.result === "unchanged" && e.origin_run === null)).toBe(true);
  expect(lastRun(w, "sync")!.status).toBe("partial");
  expect(existsSync(w.path("dest/photos"))).toBe(false);
  expect((await w.run(0, "evidence", "--json")).json.evidence).toEqual([]);
  expect(historyKinds(w)).toEqual([]);

  const off = await w.run(4, "offload", "photos", ".", "--json");
  expect(off.json.counts).toMatchObject({ selected: 3, offloaded: 0, refused: 3 });
  // the refusal names the failed check behind it
  expect(off.json.refusals).toEqual([expect.objectContaining({ destination: "r", code: "last_check_failed", files: 3 })]);
  expect(off.json.refusals[0].reason).toContain("missing at r");
  sameFiles(w.volPath, DEFAULT_FILES);
  expect(liveStatus(w)).toEqual(ALL_PRESENT);

  // an honest copy (the fake passes through): evidence advances
  delete w.env.HOARD_FAKE_RCLONE_MODE;
  await w.run(0, "sync", "photos");
  expect(evidenceRow(w)!.origin_run).toBe(BigInt(idx1));

  // a new file, and the liar again: the files already there still verify, the new one does not,
  // and the component stays where it was
  w.write("vol/new.txt", "new content\n");
  const idx2 = runId(await w.run(0, "index", "photos", "--json"));
  w.env.HOARD_FAKE_RCLONE_MODE = "nocopy";
  const s2 = await w.run(4, "sync", "photos", "--json");
  expect(s2.json.results[0].failures).toEqual([{ path: "new.txt", reason: expect.stringContaining("missing at r"), offloaded: false, missing: true }]);
  expect(evidenceRow(w)!.origin_run).toBe(BigInt(idx1));
  expect(rows(w, "SELECT new_run FROM evidence_history WHERE kind = 'advance'").map((h) => h.new_run)).toEqual([BigInt(idx1)]);
  const ev = (await w.run(0, "evidence", "--json")).json.evidence;
  expect(ev).toEqual([expect.objectContaining({ origin_run: idx1 })]);
  expect(idx2).toBeGreaterThan(idx1);

  const off2 = await w.run(4, "offload", "photos", ".", "--json"); // the failed check of new.txt stands: partial
  expect(off2.json.counts).toMatchObject({ selected: 4, offloaded: 3, refused: 1 });
  expect(off2.json.refusals).toEqual([expect.objectContaining({ destination: "r", code: "last_check_failed", examples: ["new.txt"] })]);
  expect(readFileSync(join(w.volPath, "new.txt"), "utf8")).toBe("new content\n");
});

test.concurrent("lost and corrupted at the destination after an offload: verify exits 4 with alarms, status shows them, status --check exits 4, restore never writes bad bytes", async () => {
  const w = await rcloneWorld({ dest: (w) => ({ remote: w.path("dest") }) });
  await w.run(0, "index", "photos");
  await w.run(0, "sync", "photos");
  await w.run(0, "offload", "photos", ".");
  expect(liveStatus(w)).toEqual(ALL_OFFLOADED);
  await w.run(0, "status", "--check");
  const ev = evidenceRow(w)!;

  rmSync(w.path("dest/photos/a.txt"));
  flipBit(w.path("dest/photos/dir/b c.txt"), 3); // same size, same mtime: only a hash sees it

  const v = await w.run(4, "verify", "r", "--json");
  const res = v.json.results[0];
  expect(res.status).toBe("partial");
  expect(res.counts).toMatchObject({ manifest: 3, verified: 1, failed: 2, alarms: 2 });
  expect(res.alarms.map((a: any) => a.path).sort()).toEqual(["a.txt", "dir/b c.txt"]);
  const reasons = Object.fromEntries(res.failures.map((f: any) => [f.path, f.reason]));
  expect(reasons["a.txt"]).toContain("missing at r");
  expect(reasons["dir/b c.txt"]).toContain("differs");
  expect(v.stderr).toContain("ALARM");
  expect(v.stderr).toContain("it may be the only copy");
  // the evidence is not refreshed by a partial verification
  expect(evidenceRow(w)!.verified_at).toBe(ev.verified_at);
  expect(evidenceRow(w)!.confirmed_run).toBe(ev.confirmed_run);

  const st = await w.run(0, "status", "--json");
  expect(st.json.alarms).toBe(2);
  const dest = st.json.volumes[0].destinations[0];
  expect(dest.alarms.map((a: any) => a.path).sort()).toEqual(["a.txt", "dir/b c.txt"]);
  expect(st.json.problems.map((p: any) => `${p.destination}:${p.code}`).sort()).toEqual(["r:alarm", "r:object_check_failed"]);
  const check = await w.run(4, "status", "--check");
  expect(check.stdout + check.stderr).toContain("ALARM");

  // restore brings back what is intact; the alarmed files have no source, and nothing bad is written
  const rest = await w.run(4, "restore", "photos", "--json");
  expect(rest.json.counts).toMatchObject({ selected: 3, restored: 1, no_source: 2 });
  expect(readFileSync(join(w.volPath, "dir/sub/ü.bin")).equals(Buffer.from(DEFAULT_FILES["dir/sub/ü.bin"] as Uint8Array))).toBe(true);
  expect(existsSync(join(w.volPath, "a.txt"))).toBe(false);
  expect(existsSync(join(w.volPath, "dir/b c.txt"))).toBe(false);
  expect(liveStatus(w)).toEqual({ "a.txt": "offloaded", "dir/b c.txt": "offloaded", "dir/sub/ü.bin": "present" });
  expect(statSync(w.volPath).isDirectory()).toBe(true);
});

test.concurrent("an rclone that exits without reading its file list (more than a pipe buffer of names): the sync is judged by verification (exit 4), hoard does not crash", async () => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 300; i++) files[`d/${String(i).padStart(3, "0")}-${"x".repeat(240)}`] = `${i}\n`;
  const w = await rcloneWorld({
    dest: (w) => ({ remote: w.path("dest"), binary: FAKE_RCLONE }),
    env: { HOARD_FAKE_RCLONE_MODE: "nocopy", HOARD_FAKE_RCLONE_REAL: REAL_RCLONE },
    files,
  });
  await w.run(0, "index", "photos");
  const s = await w.run(4, "sync", "photos", "--json");
  expect(s.stderr).not.toContain("EPIPE");
  expect(s.json.results[0]).toMatchObject({ status: "partial", counts: { manifest: 300, verified: 0, failed: 300 } });
  expect(lastRun(w, "sync")!.status).toBe("partial");
  expect(evidenceRow(w)).toBeUndefined();
});

test.concurrent("dest reset: receipts from the old epoch are not trusted; the next sync hashes every object again and the evidence carries its new time", async () => {
  // rolling re-verification off: only receipts decide what is read again
  const w = await rcloneWorld({ dest: (w) => ({ remote: w.path("dest"), extra: ['reverify_budget = "0"'] }) });
  await w.run(0, "index", "photos");
  await w.run(0, "sync", "photos");
  const v1 = evidenceRow(w)!.verified_at as bigint;
  // a no-change sync in the same epoch: accepted on receipts (unchanged, not verified), the evidence keeps its time
  const same = await w.run(0, "sync", "photos", "--json");
  expect(same.json.results[0].counts).toMatchObject({ manifest: 3, unchanged: 3, checked: 0 });
  expect(evidenceRow(w)!.verified_at).toBe(v1);
  await w.run(0, "dest", "reset", "r", "--yes");
  const s = await w.run(0, "sync", "photos", "--json");
  expect(s.json.results[0].counts).toMatchObject({ manifest: 3, verified: 3, checked: 3, unchanged: 0, failed: 0 });
  const after = evidenceRow(w)!;
  expect(after.epoch).toBe(2n);
  expect(after.verified_at as bigint).toBeGreaterThan(v1);
  for (const r of rows(w, "SELECT checked_at, epoch FROM dest_objects")) expect([r.epoch, (r.checked_at as bigint) > v1]).toEqual([2n, true]);
});

test.concurrent("a sync refused by a check after its warm-up listing began: hoard exits without waiting for that listing, and kills it", async () => {
  const w = await rcloneWorld({ dest: (w) => ({ remote: w.path("dest"), binary: FAKE_RCLONE }), env: { HOARD_FAKE_RCLONE_REAL: REAL_RCLONE } });
  await w.run(0, "index", "photos");
  await w.run(0, "sync", "photos"); // receipts now exist, so the next sync warms up with a listing
  // the destination is replaced (another identity), and its listings hang
  writeFileSync(w.path("dest/.hoard-destination"), JSON.stringify({ id: "someone-else" }));
  const pidfile = w.path("lsjson.pid");
  Object.assign(w.env, { HOARD_FAKE_RCLONE_MODE: "slowlist", HOARD_FAKE_RCLONE_PIDFILE: pidfile });
  const r = await w.run(3, "sync", "photos", "--json");
  expect(r.json.error.code).toBe("dest_identity_changed");
  // the warm-up listing was started, and is gone once hoard has exited (it would sleep for 60 s)
  expect(existsSync(pidfile)).toBe(true);
  expect(await stopped(Number(readFileSync(pidfile, "utf8").trim()))).toBe(true);
}, 120_000);

test.concurrent("a large file on a local path through the CLI: evidence by blake3 (read back) and sha256 together; offload and restore work", async () => {
  const big = new Uint8Array(STREAM_MIN + 7).map((_, i) => (i * 13 + 5) & 0xff);
  const files = { ...DEFAULT_FILES, "video/big.bin": big };
  const w = await rcloneWorld({ dest: (w) => ({ remote: w.path("dest") }), files });
  await w.run(0, "index", "photos");
  const s = await w.run(0, "sync", "photos", "--json");
  expect(s.json.results[0].counts).toMatchObject({ manifest: 4, verified: 4, failed: 0 });
  expect(evidenceRow(w)!.method).toBe("blake3+sha256");
  const off = await w.run(0, "offload", "photos", ".", "--json");
  expect(off.json.counts).toMatchObject({ selected: 4, offloaded: 4 });
  expect(existsSync(join(w.volPath, "video/big.bin"))).toBe(false);
  // verify re-reads it (an offloaded object has only the destination's bytes)
  await w.run(0, "verify", "r", "photos");
  await w.run(0, "restore", "photos");
  sameFiles(w.volPath, files);
});
