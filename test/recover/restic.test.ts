// `hoard recover --from DEST` end to end through the CLI from a real restic repository: the catalogs
// are snapshots of the repository itself (tag hoard-catalog), found again after the database is lost.

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hashBytes } from "../../src/kernel/hash.ts";
import { fingerprintOf } from "../../src/kernel/keys.ts";
import { rows } from "../e2e/lib.ts";
import { cleanupWorlds, FILES, recWorld, RESTIC_PW, sameFiles, syncedWorld, type RecWorld } from "./lib.ts";

setDefaultTimeout(600_000);
afterAll(cleanupWorlds);

const live = (w: RecWorld) => rows<{ path: string; status: string }>(w, "SELECT path, status FROM files WHERE volume = 'photos' AND status <> 'superseded' ORDER BY path");

/** restic ARGS on the world's repository, as a user would run it: its stdout bytes. */
const restic = (w: RecWorld, args: string[], cwd?: string): Buffer =>
  execFileSync("restic", args, { cwd, env: { ...process.env, RESTIC_REPOSITORY: w.destPath, RESTIC_PASSWORD: RESTIC_PW, RESTIC_CACHE_DIR: w.path("restic-cache") } });

/** The catalog snapshots restic itself lists in the repository (as a user would look for them). */
const catalogSnapshots = (w: RecWorld): { id: string; paths: string[]; tags: string[] }[] => JSON.parse(restic(w, ["snapshots", "--json", "--no-lock", "--tag", "hoard-catalog"]).toString("utf8"));

test.concurrent("restic: (a) offload, lose the database, recover --from d, restore: every byte back", async () => {
  const w = await syncedWorld("restic");
  await w.run(0, "offload", "photos", "dir");
  await w.run(0, "sync", "photos"); // its catalog lists dir/… as offloaded
  const cats = catalogSnapshots(w);
  expect(cats.length).toBe(2); // the first sync's, and the one after the offload (statuses changed)
  for (const c of cats) expect(c.tags.sort()).toEqual(["hoard-catalog", "volume:photos"]);
  const newest = rows<{ value: string }>(w, "SELECT value FROM meta WHERE key = 'catalog:d:photos'")[0]!.value;
  w.loseDb();

  const r = await w.run(0, "recover", "--from", "d", "--json");
  expect(r.json).toMatchObject({ destination: "d", pin: "adopted", status: "success" });
  const v = r.json.volumes[0];
  expect(v).toMatchObject({ volume: "photos", status: "recovered", refused_catalogs: [], rows: { present: 1, offloaded: 2, conflicts: 0 } });
  expect(v.catalog).toMatchObject({ name: JSON.parse(newest).name, node: "alpha", signer: "this node", rows: 3 });
  expect(v.verify).toMatchObject({ status: "success", verified: 3, failed: 0 });
  expect(live(w)).toEqual([
    { path: "a.txt", status: "present" },
    { path: "dir/b c.txt", status: "offloaded" },
    { path: "dir/sub/ü.bin", status: "offloaded" },
  ]);

  const rs = await w.run(0, "restore", "photos", "--json");
  expect(rs.json.counts).toMatchObject({ restored: 2, failed: 0, no_source: 0 });
  sameFiles(w.volPath, FILES);
  // the rebuilt database works: sync, offload everything, bring it back
  await w.run(0, "sync", "photos");
  expect((await w.run(0, "offload", "photos", ".", "--json")).json.counts.offloaded).toBe(3);
  await w.run(0, "restore", "photos");
  sameFiles(w.volPath, FILES);
});

test.concurrent("restic: (b) a new machine at the same volume path recovers and restores every byte; an unknown signer is refused without --trust", async () => {
  const a = await syncedWorld("restic", { node: "alpha" });
  await a.run(0, "offload", "photos", ".");
  await a.run(0, "sync", "photos");
  // the first machine dies with its disk; the new one (own HOME, config, DB and key) mounts the volume path again
  rmSync(a.volPath, { recursive: true, force: true });
  const b = recWorld("restic", { node: "bravo", destPath: a.destPath, volPath: a.volPath, files: null });
  const fpr = fingerprintOf(a.publicKey());

  const no = await b.run(3, "recover", "--from", "d", "--json");
  expect(no.json.error.code).toBe("recover_no_catalog");
  expect(no.json.error.hint).toContain(`--trust ${fpr}`);
  expect(rows(b, "SELECT name FROM destinations")).toEqual([]);

  b.trusted.alpha = a.publicKey();
  b.writeConfig();
  const r = await b.run(0, "recover", "--from", "d", "--volume", "photos", "--json");
  expect(r.json.pin).toBe("adopted");
  expect(r.json.volumes[0].catalog).toMatchObject({ node: "alpha", signer: "node alpha (config)", fingerprint: fpr });
  expect(r.json.volumes[0].rows).toEqual({ present: 0, offloaded: 3, conflicts: 0 });
  await b.run(0, "restore", "photos");
  sameFiles(b.volPath, FILES);
});

test.concurrent("restic: (c) a newer catalog snapshot whose bytes do not match its name, or whose signature fails, is refused; the valid one is used", async () => {
  const w = await syncedWorld("restic");
  await w.run(0, "offload", "photos", ".");
  await w.run(0, "sync", "photos");
  const named = catalogSnapshots(w).map((c) => ({ id: c.id, name: c.paths[0]!.split("/").pop()! }));
  const good = named.sort((x, y) => (x.name < y.name ? 1 : -1))[0]!; // the newest (names start with the time)
  const goodName = good.name;
  const bytes = restic(w, ["dump", "--no-lock", good.id, `/${goodName}`]);
  expect(hashBytes(bytes)).toBe(goodName.slice(21, 85)); // restic gives the stored catalog back byte for byte
  // two newer catalogs stored the way hoard stores them: one byte altered (its name's BLAKE3 no longer
  // matches), and one altered and renamed to its new BLAKE3 (only the signature can tell)
  const later = (n: bigint) => String(BigInt(goodName.slice(0, 20)) + n).padStart(20, "0");
  const altered = Buffer.from(bytes);
  altered[altered.length - 1]! ^= 0x01;
  const forged = [`${later(1n)}-${goodName.slice(21, 85)}.hcat`, `${later(2n)}-${hashBytes(altered)}.hcat`];
  for (const name of forged) {
    const dir = w.path(`forge-${name.slice(0, 20)}`);
    mkdirSync(dir);
    writeFileSync(join(dir, name), altered);
    restic(w, ["backup", "--host", "hoard", "--tag", "hoard-catalog", "--tag", "volume:photos", name], dir);
  }
  w.loseDb();
  const r = await w.run(0, "recover", "--from", "d", "--json");
  const v = r.json.volumes[0];
  expect(v.refused_catalogs).toEqual([expect.objectContaining({ name: forged[1], code: "bad_signature" }), expect.objectContaining({ name: forged[0], code: "bad_hash" })]);
  expect(v.catalog).toMatchObject({ name: goodName, signer: "this node", rows: 3 });
  await w.run(0, "restore", "photos");
  sameFiles(w.volPath, FILES);
});
