// `hoard recover --from DEST` end to end through the CLI, against an fs destination, an rclone
// local-path remote and a kopia repository (the kopia double): a lost database, a second machine,
// altered catalogs, an unknown signer.

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hashBytes } from "../../src/kernel/hash.ts";
import { fingerprintOf } from "../../src/kernel/keys.ts";
import { rows } from "../e2e/lib.ts";
import { cleanupWorlds, FILES, KINDS, kopia, kopiaCatalogs, recWorld, sameFiles, syncedWorld, type RecWorld } from "./lib.ts";

setDefaultTimeout(600_000);
afterAll(cleanupWorlds);

const live = (w: Parameters<typeof rows>[0]) => rows<{ path: string; status: string }>(w, "SELECT path, status FROM files WHERE volume = 'photos' AND status <> 'superseded' ORDER BY path");

for (const kind of KINDS) {
  test.concurrent(`${kind}: (a) offload, lose the database, recover --from d, restore: every byte back`, async () => {
    const w = await syncedWorld(kind);
    await w.run(0, "offload", "photos", "dir");
    await w.run(0, "sync", "photos"); // its catalog lists dir/… as offloaded
    const before = w.catalogs();
    expect(before.length).toBe(2); // the first sync's, and the one after the offload (statuses changed)
    const marker = w.identity();
    w.loseDb();
    expect((await w.run(3, "status", "--json")).json.error.code).toBe("db_missing");

    const r = await w.run(0, "recover", "--from", "d", "--json");
    expect(r.json).toMatchObject({ destination: "d", identity: marker, pin: "adopted", status: "success" });
    const v = r.json.volumes[0];
    expect(v).toMatchObject({ volume: "photos", status: "recovered", refused_catalogs: [], rows: { present: 1, offloaded: 2, conflicts: 0 }, conflicts: [] });
    expect(v.catalog).toMatchObject({ name: before[0], node: "alpha", signer: "this node", rows: 3 });
    expect(v.verify).toMatchObject({ status: "success", verified: 3, failed: 0 });
    expect(live(w)).toEqual([
      { path: "a.txt", status: "present" },
      { path: "dir/b c.txt", status: "offloaded" },
      { path: "dir/sub/ü.bin", status: "offloaded" },
    ]);
    expect(rows(w, "SELECT kind, new_identity, note FROM destination_events")).toEqual([{ kind: "init", new_identity: marker, note: expect.stringContaining("adopted") }]);
    expect(rows(w, "SELECT name, path FROM volumes")).toEqual([{ name: "photos", path: w.volPath }]);

    const rs = await w.run(0, "restore", "photos", "--json");
    expect(rs.json.counts).toMatchObject({ restored: 2, failed: 0, no_source: 0 });
    sameFiles(w.volPath, FILES);
    // the rebuilt database is a working one: sync (restored rows are checked again), offload everything, bring it back
    await w.run(0, "sync", "photos");
    const off = await w.run(0, "offload", "photos", ".", "--json");
    expect(off.json.counts.offloaded).toBe(3);
    await w.run(0, "restore", "photos");
    sameFiles(w.volPath, FILES);
  });

  test.concurrent(`${kind}: (b) a second machine (its own HOME, config, DB and key) recovers and restores every byte`, async () => {
    const a = await syncedWorld(kind, { node: "alpha" });
    await a.run(0, "offload", "photos", ".");
    await a.run(0, "sync", "photos");
    const b = recWorld(kind, { node: "bravo", destPath: a.destPath, files: null });
    if (kind === "fs") mkdirSync(b.volPath); // an empty volume directory; with rclone and kopia it does not exist at all
    b.trusted.alpha = a.publicKey();
    b.writeConfig();

    const r = await b.run(0, "recover", "--from", "d", "--volume", "photos", "--json");
    const v = r.json.volumes[0];
    expect(r.json.pin).toBe("adopted");
    expect(v.catalog).toMatchObject({ node: "alpha", signer: "node alpha (config)", fingerprint: fingerprintOf(a.publicKey()) });
    expect(v.rows).toEqual({ present: 0, offloaded: 3, conflicts: 0 });
    expect(v.actions).toEqual(expect.arrayContaining([expect.stringContaining(".hoard-volume"), "recorded the volume in the database"]));
    if (kind !== "fs") expect(v.actions).toContain(`created ${b.volPath}`);
    expect(JSON.parse(readFileSync(join(b.volPath, ".hoard-volume"), "utf8")).volume).toBe("photos");

    await b.run(0, "restore", "photos");
    sameFiles(b.volPath, FILES);
    // the first machine is untouched by the second: its own restore still works
    await a.run(0, "restore", "photos");
    sameFiles(a.volPath, FILES);
  });

  test.concurrent(`${kind}: (c) altered catalogs (bad signature, bad hash) are refused; the next older valid one is used`, async () => {
    const w = await syncedWorld(kind);
    const first = w.catalogs();
    expect(first.length).toBe(1);
    w.write("vol/d.txt", "delta\n");
    await w.run(0, "index", "photos");
    await w.run(0, "sync", "photos");
    w.write("vol/e.txt", "echo\n");
    await w.run(0, "index", "photos");
    await w.run(0, "sync", "photos");
    const cats = w.catalogs();
    expect(cats.length).toBe(3);
    expect(cats[2]).toBe(first[0]!);
    await w.run(0, "offload", "photos", "a.txt", "dir");
    if (kind === "kopia") return kopiaAltered(w, cats);

    // the newest: one payload byte altered and the file renamed to its new BLAKE3 (only the signature can tell)
    const newest = readFileSync(w.catalogPath(cats[0]!));
    newest[newest.length - 1]! ^= 0x01;
    const resigned = `${cats[0]!.split("-")[0]}-${hashBytes(newest)}.hcat`;
    writeFileSync(w.catalogPath(resigned), newest);
    renameSync(w.catalogPath(cats[0]!), w.path("moved-away.hcat"));
    // the second: one byte altered in place (its name's BLAKE3 no longer matches)
    const second = readFileSync(w.catalogPath(cats[1]!));
    second[second.length - 2]! ^= 0x01;
    writeFileSync(w.catalogPath(cats[1]!), second);

    w.loseDb();
    const r = await w.run(0, "recover", "--from", "d", "--json");
    const v = r.json.volumes[0];
    const fpr = fingerprintOf(w.publicKey());
    expect(v.refused_catalogs).toEqual([
      expect.objectContaining({ name: resigned, code: "bad_signature", fingerprint: fpr }),
      expect.objectContaining({ name: cats[1], code: "bad_hash" }),
    ]);
    expect(v.catalog).toMatchObject({ name: first[0], signer: "this node", rows: 3 });
    expect(v.rows).toEqual({ present: 0, offloaded: 3, conflicts: 0 });
    await w.run(0, "restore", "photos");
    sameFiles(w.volPath, { ...FILES, "d.txt": "delta\n", "e.txt": "echo\n" });
    // the files the older catalog did not know are still here, and the next index records them
    const ix = await w.run(0, "index", "photos", "--json");
    expect(ix.json.counts.new).toBe(2);
  });

  test.concurrent(`${kind}: (d) a catalog signed by an unknown key is refused without --trust, accepted with --trust FPR`, async () => {
    const b = await syncedWorld(kind, { node: "bravo" });
    await b.run(0, "offload", "photos", ".");
    const a = recWorld(kind, { node: "alpha", destPath: b.destPath, files: null }); // does not know bravo's key
    const fpr = fingerprintOf(b.publicKey());

    const no = await a.run(3, "recover", "--from", "d", "--json");
    expect(no.json.error.code).toBe("recover_no_catalog");
    expect(no.json.error.hint).toContain(`--trust ${fpr}`);
    const refusedCats = no.json.error.details.volumes[0].refused_catalogs;
    expect(refusedCats.length).toBe(b.catalogs().length);
    for (const c of refusedCats) expect(c).toMatchObject({ code: "untrusted_signer", fingerprint: fpr });
    // nothing was pinned, rebuilt or created
    expect(rows(a, "SELECT name FROM destinations")).toEqual([]);
    expect(rows(a, "SELECT id FROM files")).toEqual([]);
    expect(existsSync(a.volPath)).toBe(false);
    // another fingerprint does not help
    await a.run(3, "recover", "--from", "d", "--trust", "hoard:00000000000000000000000000000000");

    const yes = await a.run(0, "recover", "--from", "d", "--trust", fpr, "--json");
    expect(yes.json.volumes[0].catalog).toMatchObject({ node: "bravo", signer: "--trust", fingerprint: fpr });
    expect(yes.json.volumes[0].rows.offloaded).toBe(3);
    await a.run(0, "restore", "photos");
    sameFiles(a.volPath, FILES);
  });
}

test.concurrent("fs: a different local file is left alone: no row where the catalog says present, an offloaded row (restore keeps the file aside) where it says offloaded", async () => {
  const w = await syncedWorld("fs");
  await w.run(0, "offload", "photos", "dir");
  await w.run(0, "sync", "photos");
  w.loseDb();
  w.write("vol/a.txt", "alpha, edited while the database was gone\n");
  w.write("vol/dir/b c.txt", "not the offloaded bytes\n");

  const r = await w.run(0, "recover", "--from", "d", "--no-verify", "--json");
  const v = r.json.volumes[0];
  expect(v.rows).toEqual({ present: 0, offloaded: 2, conflicts: 2 });
  expect(v.conflicts).toEqual([
    { path: "a.txt", catalog_status: "present", row: "none", reason: expect.stringContaining("different file") },
    { path: "dir/b c.txt", catalog_status: "offloaded", row: "offloaded", reason: expect.stringContaining("different file") },
  ]);
  expect(v.verify).toBeNull();
  expect(live(w)).toEqual([
    { path: "dir/b c.txt", status: "offloaded" },
    { path: "dir/sub/ü.bin", status: "offloaded" },
  ]);
  expect(w.read("vol/a.txt")).toBe("alpha, edited while the database was gone\n");
  expect(w.read("vol/dir/b c.txt")).toBe("not the offloaded bytes\n");
  // no evidence was rebuilt: the next verify brings it back from real checks
  expect(rows(w, "SELECT * FROM evidence")).toEqual([]);
  await w.run(0, "verify", "d", "photos");
  const rs = await w.run(0, "restore", "photos", "--json");
  expect(rs.json.counts).toMatchObject({ restored: 2, kept_existing: 1 });
  sameFiles(w.volPath, { "dir/b c.txt": FILES["dir/b c.txt"]!, "dir/sub/ü.bin": FILES["dir/sub/ü.bin"]! });
  expect(readFileSync(join(w.volPath, rs.json.kept[0].kept_at), "utf8")).toBe("not the offloaded bytes\n");
  const ix = await w.run(0, "index", "photos", "--json");
  expect(ix.json.counts.new).toBe(1); // the edited a.txt
});

test.concurrent("fs: recover refuses a volume this database already maps, and a destination pinned to another identity", async () => {
  const w = await syncedWorld("fs");
  const r = await w.run(3, "recover", "--from", "d", "--json");
  expect(r.json.error.code).toBe("recover_volume_not_empty");
  // a database that pins d to another identity (the config now points at another initialised place)
  const other = recWorld("fs", { destPath: w.path("other-dest") });
  await other.run(0, "volume", "add", "photos", other.volPath);
  await other.run(0, "dest", "init", "d");
  w.setConfig(readFileSync(w.config, "utf8").replace(JSON.stringify(w.destPath), JSON.stringify(w.path("other-dest"))));
  const p = await w.run(3, "recover", "--from", "d", "--json");
  expect(p.json.error.code).toBe("dest_pinned_other");
  // unknown destination and a volume that does not use it are usage errors
  expect((await w.run(2, "recover", "--from", "nowhere", "--json")).json.error.code).toBe("unknown_destination");
});

/**
 * (c) for kopia. A stored catalog cannot be altered in place: kopia authenticates every blob (an
 * altered one fails to decrypt, a read error, not other bytes). Whoever has the password can store
 * other bytes under a catalog's name, though: two newer catalog snapshots, stored the way hoard stores
 * them (a pinned single-file snapshot tagged hoard-catalog:photos), one with a byte altered and the
 * name's BLAKE3 kept (bad hash), one altered and named by its new BLAKE3 (only the signature can tell).
 * The newest genuine catalog (cats[0]) is the next older valid one.
 */
async function kopiaAltered(w: RecWorld, cats: string[]): Promise<void> {
  const good = kopiaCatalogs(w).find((c) => c.name === cats[0])!;
  const bytes = kopia(w, ["show", good.obj]);
  expect(hashBytes(bytes)).toBe(good.name.slice(21, 85)); // kopia gives the stored catalog back byte for byte
  const later = (n: bigint) => String(BigInt(good.name.slice(0, 20)) + n).padStart(20, "0");
  const altered = Buffer.from(bytes);
  altered[altered.length - 1]! ^= 0x01;
  const forged = [`${later(1n)}-${good.name.slice(21, 85)}.hcat`, `${later(2n)}-${hashBytes(altered)}.hcat`];
  for (const name of forged) {
    const dir = w.path(`forge-${name.slice(0, 20)}`);
    mkdirSync(dir);
    writeFileSync(join(dir, name), altered);
    kopia(w, ["snapshot", "create", join(dir, name), "--json", "--pin", "hoard", "--tags", "hoard-catalog:photos"]);
  }
  expect(w.catalogs().slice(0, 3)).toEqual([forged[1]!, forged[0]!, cats[0]!]);

  w.loseDb();
  const r = await w.run(0, "recover", "--from", "d", "--json");
  const v = r.json.volumes[0];
  expect(v.refused_catalogs).toEqual([
    expect.objectContaining({ name: forged[1], code: "bad_signature", fingerprint: fingerprintOf(w.publicKey()) }),
    expect.objectContaining({ name: forged[0], code: "bad_hash" }),
  ]);
  expect(v.catalog).toMatchObject({ name: cats[0], signer: "this node", rows: 5 });
  expect(v.rows).toEqual({ present: 2, offloaded: 3, conflicts: 0 });
  await w.run(0, "restore", "photos");
  sameFiles(w.volPath, { ...FILES, "d.txt": "delta\n", "e.txt": "echo\n" });
  expect((await w.run(0, "index", "photos", "--json")).json.counts.new).toBe(0);
}
