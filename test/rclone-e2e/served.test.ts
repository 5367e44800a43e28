// rclone destinations end to end through the hoard CLI against served remotes: `rclone serve webdav`
// (no stored hashes: size-only in hash mode, BLAKE3 by download), `rclone serve sftp` (a stored hash),
// a crypt remote over a local directory (env only), and a WebDAV server that goes away.

import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { obscure, serve, serveSftpRemote, tmp, cleanup, type Server } from "../rclone/harness.ts";
import { DEFAULT_FILES, allStatus, cleanupWorlds, evidenceRow, historyKinds, lastRun, liveStatus, preferredHash, rcloneWorld, row, rows, runId, sameFiles } from "./lib.ts";

setDefaultTimeout(240_000);

const ALL_PRESENT = allStatus(DEFAULT_FILES, "present");
const ALL_OFFLOADED = allStatus(DEFAULT_FILES, "offloaded");
const FILE_NAMES = Object.keys(DEFAULT_FILES).sort();

let webdav: Server;
let sftp: Server;
let SFTP_PASS: string;
let sftpEnv: Record<string, string>;
const davEnv = (s: Server, name = "DAV") => ({ [`RCLONE_CONFIG_${name}_TYPE`]: "webdav", [`RCLONE_CONFIG_${name}_URL`]: `http://127.0.0.1:${s.port}/` });

beforeAll(async () => {
  let s: Awaited<ReturnType<typeof serveSftpRemote>>;
  [webdav, s] = await Promise.all([serve("webdav"), serveSftpRemote()]);
  ({ server: sftp, env: sftpEnv, pass: SFTP_PASS } = s);
});
const extraServers: Server[] = [];
afterAll(() => {
  webdav?.stop();
  sftp?.stop();
  // also when a test failed before stopping its own (ESRCH: it was stopped already)
  for (const s of extraServers)
    try {
      s.stop();
    } catch {}
  cleanupWorlds();
  cleanup();
});

/** The whole DB (and its WAL) as text, for "the secret is not in the DB" checks. */
const dbText = (db: string) => ["", "-wal"].map((s) => (existsSync(db + s) ? readFileSync(db + s).toString("latin1") : "")).join("\n");

test.concurrent("webdav, verify = hash: loud size-only warning; no offload-grade evidence; offload keeps every file and names the size-only method", async () => {
  const w = await rcloneWorld({ dest: () => ({ remote: "dav:hashmode" }), env: davEnv(webdav) });

  const doc = await w.run(0, "doctor", "--json");
  const d = doc.json.destinations[0];
  expect(d.facts).toMatchObject({ hashes: [], chosen: "size" });
  expect(d.methods).toEqual(["size"]);
  expect(d.warnings).toEqual([expect.stringContaining("size-only")]);
  expect(d.identity).toBe(row(w, "SELECT identity FROM destinations WHERE name = 'r'")!.identity);

  await w.run(0, "index", "photos");
  const s = await w.run(0, "sync", "photos", "--json");
  const res = s.json.results[0];
  // the copy happened and every file matched by size, but that proves nothing about content
  expect(res).toMatchObject({ status: "success", counts: { manifest: 3, verified: 3, failed: 0 } });
  expect(res.warnings).toEqual([expect.stringContaining("size-only")]);
  expect(res.warnings[0]).toContain("cannot satisfy the offload gate");
  expect(res.warnings[0]).toContain('verify = "download"');
  expect(s.stderr).toContain("size-only");
  expect(s.stderr).toMatch(/warn/i);
  expect(res.evidence).toEqual([expect.objectContaining({ origin_run: null, result: "unchanged", blocked: expect.objectContaining({ reason: expect.stringContaining("size") }) })]);
  sameFiles(join(webdav.dir, "hashmode", "photos"), DEFAULT_FILES);
  expect((await w.run(0, "evidence", "--json")).json.evidence).toEqual([]);
  expect(evidenceRow(w)).toBeUndefined();

  // a refusal is a decision, not an error: exit 0, every file kept, the reason names size
  const off = await w.run(0, "offload", "photos", ".", "--json");
  expect(off.json.counts).toMatchObject({ selected: 3, offloadable: 0, offloaded: 0, refused: 3 });
  expect(off.json.refusals).toHaveLength(1);
  expect(off.json.refusals[0]).toMatchObject({ destination: "r", code: "method_not_accepted", files: 3 });
  expect(off.json.refusals[0].reason).toContain("size");
  expect(off.json.refusals[0].hint).toContain('verify = "download"');
  sameFiles(w.volPath, DEFAULT_FILES);
  expect(liveStatus(w)).toEqual(ALL_PRESENT);
});

test.concurrent("webdav, verify = download: BLAKE3 evidence from bytes read back; offload, verify of offloaded files and restore work", async () => {
  const w = await rcloneWorld({ dest: () => ({ remote: "dav:dlmode", verify: "download" }), env: davEnv(webdav) });
  const d = (await w.run(0, "doctor", "--json")).json.destinations[0];
  expect(d).toMatchObject({ methods: ["blake3"], warnings: [] });
  expect(d.facts).toMatchObject({ hashes: [], chosen: "blake3", verify: "download" });

  const idx = runId(await w.run(0, "index", "photos", "--json"));
  const s = await w.run(0, "sync", "photos", "--json");
  const res = s.json.results[0];
  expect(res).toMatchObject({ status: "success", warnings: [], counts: { manifest: 3, verified: 3, transferred: 3 } });
  expect(res.evidence).toEqual([expect.objectContaining({ origin_run: idx, method: "blake3", result: "advanced" })]);
  expect(s.stderr).not.toContain("size-only");
  expect((await w.run(0, "evidence", "--json")).json.evidence).toEqual([expect.objectContaining({ destination: "r", origin_run: idx, method: "blake3" })]);

  const off = await w.run(0, "offload", "photos", ".", "--json");
  expect(off.json.counts).toMatchObject({ selected: 3, offloaded: 3, refused: 0 });
  expect(liveStatus(w)).toEqual(ALL_OFFLOADED);
  const ver = await w.run(0, "verify", "r", "--json");
  expect(ver.json.results[0]).toMatchObject({ status: "success", counts: { verified: 3, alarms: 0 } });
  expect(ver.json.results[0].evidence[0]).toMatchObject({ method: "blake3", origin_run: idx });

  const rest = await w.run(0, "restore", "photos", "--json");
  expect(rest.json.counts).toMatchObject({ restored: 3, failed: 0 });
  sameFiles(w.volPath, DEFAULT_FILES);
  expect(liveStatus(w)).toEqual(ALL_PRESENT);
});

test.concurrent("sftp (rclone serve sftp, remote and password from env only): evidence by the stored hash it lists, offload and restore work, the password is nowhere", async () => {
  const w = await rcloneWorld({ dest: () => ({ remote: "sftpd:backup" }), env: sftpEnv });
  const d = (await w.run(0, "doctor", "--json")).json.destinations[0];
  expect(d.facts.hashes).toEqual(expect.arrayContaining(["md5", "sha1"]));
  const method = preferredHash(d.facts.hashes)!;
  expect(["sha1", "md5"]).toContain(method);
  expect(d).toMatchObject({ methods: [method], warnings: [] });
  expect(d.facts.chosen).toBe(method);

  const idx = runId(await w.run(0, "index", "photos", "--json"));
  const s = await w.run(0, "sync", "photos", "--json");
  expect(s.json.results[0]).toMatchObject({ status: "success", warnings: [], counts: { manifest: 3, verified: 3 } });
  expect(s.json.results[0].evidence).toEqual([expect.objectContaining({ origin_run: idx, method, result: "advanced" })]);
  expect((await w.run(0, "evidence", "--json")).json.evidence).toEqual([expect.objectContaining({ origin_run: idx, method })]);
  expect(rows(w, "SELECT algo FROM content_digests").map((r) => r.algo)).toEqual([method, method, method]);
  sameFiles(join(sftp.dir, "backup", "photos"), DEFAULT_FILES);

  const off = await w.run(0, "offload", "photos", ".", "--json");
  expect(off.json.counts).toMatchObject({ selected: 3, offloaded: 3, refused: 0 });
  // the offloaded files are checked against the digests cached at sync time
  const ver = await w.run(0, "verify", "r", "--json");
  expect(ver.json.results[0]).toMatchObject({ status: "success", counts: { verified: 3, failed: 0, alarms: 0 } });
  const rest = await w.run(0, "restore", "photos", "--json");
  expect(rest.json.counts).toMatchObject({ restored: 3, failed: 0 });
  sameFiles(w.volPath, DEFAULT_FILES);

  const everything = [...w.outputs, dbText(w.db), readFileSync(w.config, "utf8")].join("\n");
  expect(everything).not.toContain(SFTP_PASS);
  expect(everything).not.toContain(sftpEnv.RCLONE_CONFIG_SFTPD_PASS!);
});

test.concurrent("crypt over a local directory (env only): hash mode gives no offload-grade evidence; download mode gives BLAKE3 evidence, offload and restore", async () => {
  const base = tmp("hoard-e2e-crypt-");
  const pw = obscure("crypt-pw-" + Math.random());
  const w = await rcloneWorld({ dest: () => ({ remote: "vault:" }), env: { RCLONE_CONFIG_VAULT_TYPE: "crypt", RCLONE_CONFIG_VAULT_REMOTE: base, RCLONE_CONFIG_VAULT_PASSWORD: pw } });
  // names are encrypted: nothing readable at the base
  expect(readdirSync(base).some((n) => n.includes("hoard") || n === "photos")).toBe(false);
  expect((await w.run(0, "doctor", "--json")).json.destinations[0]).toMatchObject({ methods: ["size"], facts: { hashes: [], chosen: "size" } });

  await w.run(0, "index", "photos");
  const s = await w.run(0, "sync", "photos", "--json");
  expect(s.json.results[0]).toMatchObject({ status: "success", warnings: [expect.stringContaining("size-only")] });
  expect(s.stderr).toContain("size-only");
  expect(readdirSync(base)).not.toContain("photos");
  expect((await w.run(0, "evidence", "--json")).json.evidence).toEqual([]);
  const off = await w.run(0, "offload", "photos", ".", "--json");
  expect(off.json.counts).toMatchObject({ selected: 3, offloaded: 0, refused: 3 });
  expect(off.json.refusals[0]).toMatchObject({ destination: "r", code: "method_not_accepted" });
  sameFiles(w.volPath, DEFAULT_FILES);

  // the same destination switched to verify = "download": the bytes are read back through decryption
  w.dest.verify = "download";
  w.writeConfig();
  const s2 = await w.run(0, "sync", "photos", "--json");
  expect(s2.json.results[0]).toMatchObject({ status: "success", warnings: [] });
  expect(s2.json.results[0].evidence).toEqual([expect.objectContaining({ method: "blake3", result: "advanced" })]);
  expect((await w.run(0, "evidence", "--json")).json.evidence).toEqual([expect.objectContaining({ method: "blake3" })]);
  const off2 = await w.run(0, "offload", "photos", ".", "--json");
  expect(off2.json.counts).toMatchObject({ selected: 3, offloaded: 3 });
  const rest = await w.run(0, "restore", "photos", "--json");
  expect(rest.json.counts).toMatchObject({ restored: 3, failed: 0 });
  sameFiles(w.volPath, DEFAULT_FILES);
  expect(dbText(w.db)).not.toContain(pw);
});

test.concurrent("webdav server gone at sync time: sync and verify fail with a clear message (never 'not initialised'), offload deletes nothing, doctor reports it, nothing recorded as verified", async () => {
  const srv = await serve("webdav");
  extraServers.push(srv);
  const w = await rcloneWorld({ dest: () => ({ remote: "dav2:gone", verify: "download" }), env: { ...davEnv(srv, "DAV2"), RCLONE_LOW_LEVEL_RETRIES: "1", RCLONE_RETRIES: "1" } });
  const idx = runId(await w.run(0, "index", "photos", "--json"));
  await w.run(0, "sync", "photos");
  const ev = evidenceRow(w)!;
  expect(ev.origin_run).toBe(BigInt(idx));
  const hist = historyKinds(w);
  const identity = row(w, "SELECT identity FROM destinations WHERE name = 'r'")!.identity;
  const syncs = rows(w, "SELECT id FROM runs WHERE kind = 'sync' AND status = 'success'").length;

  srv.stop();
  w.write("vol/new.txt", "written while the server is down\n");
  await w.run(0, "index", "photos");

  // what an unreachable remote mistaken for an absent marker would say
  const notInit = /is not initiali[sz]ed|shows nothing|wiped|dest (init|reset)/i;
  for (const args of [["sync", "photos"], ["verify", "r"]]) {
    const r = await w.run([1, 3], ...args, "--json");
    expect(r.json.ok).toBe(false);
    expect(r.json.error.code).toBe("dest_unreachable");
    expect(r.json.error.message).toContain("connection refused");
    expect(`${r.json.error.message}\n${r.json.error.hint}\n${r.stderr}`).not.toMatch(notInit);
    expect(r.stderr).toContain("connection refused");
  }
  const off = await w.run([1, 3], "offload", "photos", ".", "--json");
  expect(off.json.ok).toBe(false);
  expect(off.json.error.message).toContain("connection refused");
  expect(off.json.error.message).toContain("nothing was deleted");
  expect(`${off.json.error.message}\n${off.json.error.hint}`).not.toMatch(notInit);
  sameFiles(w.volPath, DEFAULT_FILES);
  expect(liveStatus(w)).toEqual({ ...ALL_PRESENT, "new.txt": "present" });

  const doc = await w.run(1, "doctor", "--json");
  const d = doc.json.destinations[0];
  expect(d.identity_error).toContain("connection refused");
  expect(d.identity).toBeUndefined();

  // nothing claimed: evidence, its history, the pinned identity and the successful runs are as before
  expect(evidenceRow(w)).toEqual(ev);
  expect(historyKinds(w)).toEqual(hist);
  expect(row(w, "SELECT identity FROM destinations WHERE name = 'r'")!.identity).toBe(identity);
  expect(rows(w, "SELECT kind FROM destination_events WHERE destination = 'r' AND kind <> 'init'")).toEqual([]);
  expect(rows(w, "SELECT id FROM runs WHERE kind = 'sync' AND status = 'success'").length).toBe(syncs);
  // the failed attempt is on record, so monitoring sees it
  expect(lastRun(w, "sync")).toMatchObject({ status: "failed", error: expect.stringContaining("connection refused") });
  expect(lastRun(w, "verify")!.status).toBe("failed");
  const st = await w.run(0, "status", "--json");
  expect(st.json.volumes[0].destinations[0]).toMatchObject({ name: "r", initialised: true, last_sync: { status: "failed" } });
  const check = await w.run(4, "status", "--check");
  expect(check.stdout + check.stderr).toMatch(/last sync run \d+ failed/);
});
