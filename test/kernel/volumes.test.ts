// Volumes: `volume add` (marker, DB record, config append that keeps every existing byte),
// idempotent re-add, hand-declared volumes, and the three-way identity check (config path,
// DB path, marker) refusing index (and sync) for each kind of mismatch; --relocate.

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { fsWorld, world, type World } from "../helpers.ts";
import { dumpDb, filesOf, quickWorld, runsOf, withDb, Worlds } from "./util.ts";

const worlds = new Worlds();
afterAll(() => worlds.cleanup());
const track = <W extends World>(w: W) => worlds.track(w);
const T = 30_000;

const HAND_CONFIG = (w: World) => `# my hoard config — hand written, keep my comments!
node = "laptop"   # trailing comment

# photos first, declared by hand
[volumes.photos]
path = ${JSON.stringify(w.path("photos"))}
sync_to = ["nas"]   # the NAS

[destinations.nas]
# where copies go
type = "fs"
path = ${JSON.stringify(w.path("nas"))}

# (end of file comment, no trailing blank line)`;

describe.concurrent("hoard volume add", () => {
  test("writes the marker, records the path, appends to the config keeping every byte; re-add is a no-op", async () => {
    const w = track(world());
    mkdirSync(w.path("photos"));
    mkdirSync(w.path("music"));
    const original = HAND_CONFIG(w);
    w.setConfig(original);
    const r = await w.hoardAsync("volume", "add", "music", w.path("music"), "--json");
    expect(r.code).toBe(0);
    expect(r.json.volume).toBe("music");
    expect(r.json.actions.length).toBe(3);
    const after = readFileSync(w.config, "utf8");
    expect(after.startsWith(original)).toBe(true); // comments, order, spacing all kept
    const added = after.slice(original.length);
    expect(added).toContain("[volumes.music]");
    expect(added).toContain(`path = ${JSON.stringify(w.path("music"))}`);
    const marker = JSON.parse(readFileSync(w.path("music/.hoard-volume"), "utf8"));
    expect(marker.volume).toBe("music");
    expect(typeof marker.id).toBe("string");
    expect(withDb(w.db, (db) => db.query("SELECT path FROM volumes WHERE name = 'music'").get() as any).path).toBe(w.path("music"));
    const list = await w.hoardAsync("volumes", "--json");
    expect(list.code).toBe(0);
    expect(list.json.volumes.find((v: any) => v.name === "music")).toMatchObject({ config_path: w.path("music"), db_path: w.path("music"), marker: "ok" });
    expect(list.json.volumes.find((v: any) => v.name === "photos")).toMatchObject({ config_path: w.path("photos"), db_path: null, marker: "missing" });

    // re-add: nothing changes anywhere
    const cfg = readFileSync(w.config);
    const mk = readFileSync(w.path("music/.hoard-volume"));
    const dump = dumpDb(w.db);
    const again = await w.hoardAsync("volume", "add", "music", w.path("music"), "--json");
    expect(again.code).toBe(0);
    expect(again.json.actions).toEqual(["already added; nothing to do"]);
    expect(readFileSync(w.config).equals(cfg)).toBe(true);
    expect(readFileSync(w.path("music/.hoard-volume")).equals(mk)).toBe(true);
    expect(dumpDb(w.db)).toBe(dump);
  }, T);

  test("a volume declared by hand only gets the marker and the DB record (config untouched)", async () => {
    const w = track(world());
    mkdirSync(w.path("photos"));
    w.setConfig(HAND_CONFIG(w));
    const cfg = readFileSync(w.config);
    const r = await w.hoardAsync("volume", "add", "photos", w.path("photos"), "--json");
    expect(r.code).toBe(0);
    expect(r.json.actions.some((a: string) => a.includes("config"))).toBe(false);
    expect(readFileSync(w.config).equals(cfg)).toBe(true);
    expect(JSON.parse(readFileSync(w.path("photos/.hoard-volume"), "utf8")).volume).toBe("photos");
    expect(withDb(w.db, (db) => db.query("SELECT path FROM volumes WHERE name = 'photos'").get() as any).path).toBe(w.path("photos"));
  }, T);

  test("a hand-declared volume added with another path is refused and nothing is written", async () => {
    const w = track(world());
    mkdirSync(w.path("photos"));
    mkdirSync(w.path("elsewhere"));
    w.setConfig(HAND_CONFIG(w));
    const cfg = readFileSync(w.config);
    const r = await w.hoardAsync("volume", "add", "photos", w.path("elsewhere"));
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(w.path("photos"));
    expect(readFileSync(w.config).equals(cfg)).toBe(true);
    expect(existsSync(w.path("elsewhere/.hoard-volume"))).toBe(false);
    expect(existsSync(w.path("photos/.hoard-volume"))).toBe(false);
  }, T);
});

describe.concurrent("identity mismatches refuse every run (exit 3) and touch nothing", () => {
  /** A world indexed once, so a wrongly allowed run would show in the files table. */
  async function indexed(): Promise<World> {
    const w = track(fsWorld()); // destination initialised: sync gets as far as the identity check
    expect((await w.hoardAsync("index", "photos")).code).toBe(0);
    return w;
  }
  /** A world added but never indexed: a wrongly allowed index would fill the files table. */
  const added = () => track(quickWorld());
  async function expectRefused(w: World, args: string[], pattern: RegExp, json = false) {
    const files = JSON.stringify(filesOf(w.db), (_, v) => (typeof v === "bigint" ? String(v) : v));
    const before = runsOf(w.db).length;
    const r = await w.hoardAsync(...args);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/refused: volume photos: /);
    expect(r.stderr).toMatch(pattern);
    expect(r.stdout).toBe("");
    if (json) {
      const js = await w.hoardAsync(...args, "--json");
      expect(js.code).toBe(3);
      expect(js.json.ok).toBe(false);
      expect(js.json.error.message).toMatch(pattern);
    }
    expect(JSON.stringify(filesOf(w.db), (_, v) => (typeof v === "bigint" ? String(v) : v))).toBe(files);
    const runs = runsOf(w.db).slice(before);
    expect(runs.length).toBe(json ? 2 : 1);
    for (const x of runs) expect(x.status).toBe("refused");
    return r;
  }

  test("the directory moved in the config: index and sync refused; --relocate fixes the DB path", async () => {
    const w = await indexed();
    const moved = w.path("vol-moved");
    renameSync(w.path("vol"), moved);
    writeFileSync(w.config, readFileSync(w.config, "utf8").replace(JSON.stringify(w.path("vol")), JSON.stringify(moved)));
    const r = await expectRefused(w, ["index", "photos"], new RegExp(`config says ${moved} but the database recorded ${w.path("vol")}`), true);
    expect(r.stderr).toContain("--relocate");
    await expectRefused(w, ["sync", "photos"], /config says .* but the database recorded/);
    // without --relocate, volume add refuses too
    const add = await w.hoardAsync("volume", "add", "photos", moved);
    expect(add.code).toBe(3);
    expect(add.stderr).toContain("--relocate");
    const rel = await w.hoardAsync("volume", "add", "photos", moved, "--relocate", "--json");
    expect(rel.code).toBe(0);
    expect(withDb(w.db, (db) => db.query("SELECT path FROM volumes WHERE name = 'photos'").get() as any).path).toBe(moved);
    const again = await w.hoardAsync("index", "photos", "--json");
    expect(again.code).toBe(0);
    expect(again.json.counts).toMatchObject({ unchanged: 3, new: 0, missing: 0 });
  }, T);

  test("a stale path in the DB", async () => {
    const w = added();
    withDb(w.db, (db) => db.query("UPDATE volumes SET path = ? WHERE name = 'photos'").run(w.path("old-place")));
    await expectRefused(w, ["index", "photos"], new RegExp(`database recorded ${w.path("old-place")}`));
  }, T);

  test("the marker is missing", async () => {
    const w = added();
    unlinkSync(w.path("vol/.hoard-volume"));
    await expectRefused(w, ["index", "photos"], /has no \.hoard-volume marker/);
    expect(existsSync(w.path("vol/.hoard-volume"))).toBe(false); // not silently re-created
  }, T);

  test("the marker names another volume", async () => {
    const w = added();
    writeFileSync(w.path("vol/.hoard-volume"), JSON.stringify({ volume: "music", id: "x", created_at: "2020-01-01T00:00:00Z" }));
    await expectRefused(w, ["index", "photos"], /names volume music, not photos/);
  }, T);

  test("the marker is unreadable, or the directory is gone", async () => {
    const w = added();
    writeFileSync(w.path("vol/.hoard-volume"), "{ not json");
    await expectRefused(w, ["index", "photos"], /cannot be read/);
    rmSync(w.path("vol"), { recursive: true });
    await expectRefused(w, ["index", "photos"], /is not a directory/);
  }, T);
});
