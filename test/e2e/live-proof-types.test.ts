// The same offloads through the real CLI against every destination kind (fs, rclone local path,
// rclone `serve webdav` read back by download, kopia): live proof at the moment of deletion (invariant 10).

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { liveStatus } from "./lib.ts";
import { ALL, BASE, cleanupKinds, KINDS, kindWorld, VICTIM, VICTIM_BYTES, volumeHolds, type KindWorld } from "./dest-kinds.ts";

// each test drives a dozen real hoard processes (and rclone or kopia under them), all concurrently
setDefaultTimeout(240_000);
afterAll(cleanupKinds);

const OTHERS = Object.keys(BASE).sort();
const ALL_PRESENT = Object.fromEntries(Object.keys(ALL).sort().map((p) => [p, "present"]));
const problem = (r: { json: any }, path: string) => (r.json.problems as any[]).find((p) => p.path === path);
const gone = (kw: KindWorld, rel: string) => !existsSync(kw.w.path(`vol/${rel}`));

/**
 * Scenario 1: the victim's object lost at the destination. Offload keeps it (exit 4, problem
 * "unconfirmed" naming the destination) and offloads the others; restore brings those back
 * byte-exact; sync repairs the object; then the victim's own offload succeeds.
 */
async function lostObject(kw: KindWorld): Promise<void> {
  kw.loseVictim();

  const off = await kw.run(4, "offload", "photos", ".", "--json");
  expect(off.json.status).toBe("partial");
  expect(problem(off, VICTIM)).toMatchObject({ path: VICTIM, code: "unconfirmed", destination: kw.dest });
  expect(off.json.offloaded.sort()).toEqual(OTHERS);
  expect(off.json.counts).toMatchObject({ selected: 4, offloaded: 3, unconfirmed: 1 });
  expect(off.json.destinations).toEqual([expect.objectContaining({ name: kw.dest, asked: true, unconfirmed: 1 })]);
  volumeHolds(kw, { [VICTIM]: VICTIM_BYTES });
  for (const rel of OTHERS) expect(gone(kw, rel)).toBe(true);
  expect(liveStatus(kw.w)).toEqual({ ...Object.fromEntries(OTHERS.map((p) => [p, "offloaded"])), [VICTIM]: "present" });

  // the failed confirmation is recorded: the gate refuses the file until a push repairs it
  const again = await kw.run(4, "offload", "photos", VICTIM, "--json");
  expect(again.json.refusals.map((x: any) => `${x.destination}:${x.code}`)).toEqual([`${kw.dest}:last_check_failed`]);
  volumeHolds(kw, { [VICTIM]: VICTIM_BYTES });

  const rest = await kw.run(0, "restore", "photos", "--json");
  expect(rest.json.counts).toMatchObject({ restored: 3, failed: 0 });
  volumeHolds(kw, ALL);
  expect(liveStatus(kw.w)).toEqual(ALL_PRESENT);

  const s = await kw.run(0, "sync", "photos", "--json");
  expect(s.json.results[0]).toMatchObject({ destination: kw.dest, status: "success", failures: [], alarms: [] });
  const obj = kw.objectPath(VICTIM);
  if (obj) expect(readFileSync(obj, "utf8")).toBe(VICTIM_BYTES);

  const off2 = await kw.run(0, "offload", "photos", VICTIM, "--json");
  expect(off2.json.offloaded).toEqual([VICTIM]);
  expect(gone(kw, VICTIM)).toBe(true);
  await kw.run(0, "restore", "photos");
  volumeHolds(kw, ALL);
}

for (const kind of KINDS) {
  test.concurrent(`${kind}: an object lost at the destination keeps its file (exit 4), the others go; restore brings them back; sync repairs; the next offload succeeds`, async () => {
    await lostObject(await kindWorld(kind));
  });

  test.concurrent(`${kind}: an object corrupted in place (size and mtime kept): presence cannot see it, --confirm content keeps the file (exit 4) and records it`, async () => {
    const kw = await kindWorld(kind);
    kw.corruptVictim();

    // a dry run asks live and records nothing: presence is satisfied, content is not
    const pres = await kw.run(0, "offload", "photos", VICTIM, "--dry-run", "--confirm", "presence", "--json");
    expect(pres.json.counts).toMatchObject({ selected: 1, offloadable: 1, unconfirmed: 0 });
    expect(pres.json.destinations).toEqual([expect.objectContaining({ name: kw.dest, asked: true, presence: 1, unconfirmed: 0 })]);
    const cont = await kw.run(4, "offload", "photos", VICTIM, "--dry-run", "--confirm", "content", "--json");
    expect(problem(cont, VICTIM)).toMatchObject({ code: "unconfirmed", destination: kw.dest });
    expect(cont.json.destinations).toEqual([expect.objectContaining({ name: kw.dest, asked: true, content: 0, unconfirmed: 1 })]);
    volumeHolds(kw, ALL);

    const off = await kw.run(4, "offload", "photos", VICTIM, "--confirm", "content", "--json");
    expect(off.json.status).toBe("partial");
    expect(off.json.counts).toMatchObject({ selected: 1, offloaded: 0, unconfirmed: 1 });
    expect(problem(off, VICTIM)).toMatchObject({ path: VICTIM, code: "unconfirmed", destination: kw.dest });
    volumeHolds(kw, ALL);

    // recorded: a presence offload of it is now refused by the gate, not re-asked
    const again = await kw.run(4, "offload", "photos", VICTIM, "--json");
    expect(again.json.refusals.map((x: any) => `${x.destination}:${x.code}`)).toEqual([`${kw.dest}:last_check_failed`]);
    expect(again.json.counts.offloaded).toBe(0);
    volumeHolds(kw, ALL);
    expect(liveStatus(kw.w)).toEqual(ALL_PRESENT);
  });

  test.concurrent(`${kind}: unreachable, offload refuses (exit 3) and deletes nothing; with trusted = true it proceeds from recorded evidence, not asked`, async () => {
    const kw = await kindWorld(kind);
    await kw.unreachable();

    const off = await kw.run(3, "offload", "photos", ".", "--json");
    expect(off.stderr).toContain("nothing was deleted");
    expect(off.json.ok).toBe(false);
    volumeHolds(kw, ALL);
    expect(liveStatus(kw.w)).toEqual(ALL_PRESENT);

    kw.writeConfig({ trusted: true });
    const t = await kw.run(0, "offload", "photos", ".", "--json");
    expect(t.json.destinations).toHaveLength(1);
    expect(t.json.destinations[0]).toMatchObject({ name: kw.dest, trusted: true, asked: false });
    expect(t.json.destinations[0].note).toContain("trusted = true");
    expect(t.json.offloaded.sort()).toEqual(Object.keys(ALL).sort());
    for (const rel of Object.keys(ALL)) expect(gone(kw, rel)).toBe(true);

    // back online, everything comes back byte-exact
    await kw.reachable();
    const rest = await kw.run(0, "restore", "photos", "--json");
    expect(rest.json.counts).toMatchObject({ restored: 4, failed: 0 });
    volumeHolds(kw, ALL);
  });
}

// rclone serve webdav answers listings from its directory cache (default 5 minutes): the kind above
// deletes behind a caching server; this one behind a server that lists its directory afresh
test.concurrent("rclone-webdav, served with --dir-cache-time 0s: an object lost at the destination keeps its file (exit 4), the others go; restore; sync repairs; the next offload succeeds", async () => {
  await lostObject(await kindWorld("rclone-webdav", { davDirCache: "0s" }));
});
