// `hoard recover --from` a kopia destination through the CLI (the kopia double): each sync stores the
// volume's signed catalog as a pinned single-file snapshot tagged hoard-catalog; after the DB is lost it is found again.

import { afterAll, expect, test } from "bun:test";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { kopiaWorld, must, PW, type KopiaWorld } from "./harness.ts";

const worlds: KopiaWorld[] = [];
afterAll(() => {
  for (const w of worlds.splice(0)) w.cleanup();
});
const SLOW = 300_000;
const FILES = { "a.txt": "alpha\n", "dir/b.txt": "bravo\n", "dir/sub/c.bin": "charlie\n" };

/** The `snapshot create` runs that stored a catalog of photos (their source is the catalog file itself). */
const catalogSnaps = (w: KopiaWorld) => w.kopiaLog().filter((l) => l.argv[0] === "snapshot" && l.argv[1] === "create" && l.argv.includes("hoard-catalog:photos"));

test(
  "kopia: offload, lose the database, recover --from k, restore: every byte back; catalogs are pinned and never mistaken for the volume",
  async () => {
    const w = await kopiaWorld({ files: FILES });
    worlds.push(w);
    must(await w.run("sync", "photos"), "sync");
    must(await w.run("offload", "photos", "dir"), "offload");
    must(await w.run("sync", "photos"), "sync after offload");
    const puts = catalogSnaps(w);
    expect(puts.length).toBe(2); // the first sync's and the one after the offload
    for (const p of puts) expect(p.argv).toEqual(expect.arrayContaining(["--pin", "hoard", "--tags", "hoard-catalog:photos"]));
    const last = JSON.parse(w.sql<{ value: string }>("SELECT value FROM meta WHERE key = 'catalog:k:photos'")[0]!.value).name as string;
    for (const s of ["", "-wal", "-shm"]) rmSync(`${w.db}${s}`, { force: true });

    const r = must(await w.run("recover", "--from", "k", "--json"), "recover");
    expect(r.json).toMatchObject({ destination: "k", pin: "adopted", status: "success" });
    const v = r.json.volumes[0];
    expect(v).toMatchObject({ volume: "photos", status: "recovered", refused_catalogs: [], rows: { present: 1, offloaded: 2, conflicts: 0 } });
    expect(v.catalog).toMatchObject({ name: last, node: "testnode", signer: "this node", rows: 3 });
    expect(v.verify).toMatchObject({ status: "success", verified: 3, failed: 0 });

    const rs = must(await w.run("restore", "photos", "--json"), "restore");
    expect(rs.json.counts).toMatchObject({ restored: 2, failed: 0 });
    for (const [rel, c] of Object.entries(FILES)) expect({ rel, c: readFileSync(join(w.vol, rel), "utf8") }).toEqual({ rel, c });
    // the rebuilt database works: the next sync verifies everything, nothing leaked the password
    must(await w.run("sync", "photos"), "sync after recover");
    for (const x of w.results) expect(x.stdout + x.stderr).not.toContain(PW);
  },
  SLOW,
);
