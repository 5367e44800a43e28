// Disjoint trees (invariant 10): no volume inside another volume or a local destination, no local
// destination inside a volume; literal and symlink-resolved paths; refused before anything is written.

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { fsWorld, world, type World } from "../helpers.ts";
import { rows } from "../e2e/lib.ts";

const made: World[] = [];
afterAll(() => {
  for (const w of made.splice(0)) w.cleanup();
});
const T = 60_000;
const track = (w: World) => (made.push(w), w);

/** `volume add NAME PATH` must be refused (exit 2) naming both trees, leaving marker, DB and config untouched. */
async function refusedAdd(w: World, name: string, path: string, names: RegExp[]) {
  const cfg = readFileSync(w.config);
  const vols = rows(w, "SELECT name, path FROM volumes ORDER BY name");
  const r = await w.hoardAsync("volume", "add", name, path);
  expect(r.code).toBe(2);
  for (const n of names) expect(r.stderr).toMatch(n);
  expect(existsSync(`${path}/.hoard-volume`)).toBe(false);
  expect(rows(w, "SELECT name, path FROM volumes ORDER BY name")).toEqual(vols);
  expect(readFileSync(w.config).equals(cfg)).toBe(true);
  // and hoard still works afterwards: nothing half-added poisons the config
  expect((await w.hoardAsync("status")).code).toBe(0);
  return r;
}

describe.concurrent("volume add refuses an overlapping tree before writing anything", () => {
  test("a volume inside another volume", async () => {
    const w = track(fsWorld());
    mkdirSync(w.path("vol/sub"));
    await refusedAdd(w, "w", w.path("vol/sub"), [/volume "w"/, /inside volume "photos"/, new RegExp(w.path("vol/sub"))]);
  }, T);

  test("a volume containing another volume", async () => {
    const w = track(fsWorld());
    mkdirSync(w.path("outer"));
    // vol is inside the new volume's tree: use the world's root, which holds vol/ and nas/
    await refusedAdd(w, "everything", w.dir, [/volume "photos"/, /inside volume "everything"/]);
  }, T);

  test("a volume inside an fs destination, and one reached through a symlink", async () => {
    const w = track(fsWorld());
    mkdirSync(w.path("nas/inside"), { recursive: true });
    await refusedAdd(w, "w", w.path("nas/inside"), [/volume "w"/, /inside fs destination "nas"/]);
    // link/ -> vol/: link/sub is literally elsewhere but really inside volume photos
    mkdirSync(w.path("vol/sub"));
    symlinkSync(w.path("vol"), w.path("link"));
    await refusedAdd(w, "sneaky", w.path("link/sub"), [/volume "sneaky"/, /inside volume "photos"/, /resolves to/]);
  }, T);
});

describe.concurrent("a config with overlapping trees is rejected at load (exit 2), before any command writes", () => {
  test("an fs destination inside a volume: dest init creates nothing, every command exits 2 naming both", async () => {
    const w = track(world());
    mkdirSync(w.path("vol"), { recursive: true });
    w.write("vol/a.txt", "alpha\n");
    w.setConfig(`node = "testnode"\n\n[volumes.photos]\npath = ${JSON.stringify(w.path("vol"))}\nsync_to = ["nas"]\n\n[destinations.nas]\ntype = "fs"\npath = ${JSON.stringify(w.path("vol/backup"))}\n`);
    for (const args of [["dest", "init", "nas"], ["volume", "add", "photos", w.path("vol")], ["status"]]) {
      const r = await w.hoardAsync(...args);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("destinations.nas.path");
      expect(r.stderr).toContain('is inside volume "photos"');
    }
    expect(existsSync(w.path("vol/backup"))).toBe(false);
    expect(existsSync(w.path("vol/.hoard-volume"))).toBe(false);
    expect(existsSync(w.db)).toBe(false);
  }, T);

  test("a volume inside an rclone destination on a local path (:local: and plain)", async () => {
    for (const remote of [(w: World) => `:local:${w.dir}`, (w: World) => w.dir]) {
      const w = track(world());
      mkdirSync(w.path("vol"), { recursive: true });
      w.setConfig(`node = "testnode"\n\n[volumes.photos]\npath = ${JSON.stringify(w.path("vol"))}\n\n[destinations.cloud]\ntype = "rclone"\nremote = ${JSON.stringify(remote(w))}\n`);
      const r = await w.hoardAsync("volume", "add", "photos", w.path("vol"));
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("volumes.photos.path");
      expect(r.stderr).toContain('is inside rclone destination "cloud"');
      expect(existsSync(w.path("vol/.hoard-volume"))).toBe(false);
      expect(existsSync(w.db)).toBe(false);
    }
  }, T);

  test("a volume whose path is a symlink into another volume", async () => {
    const w = track(world());
    mkdirSync(w.path("a/inner"), { recursive: true });
    symlinkSync(w.path("a/inner"), w.path("b"));
    w.setConfig(`node = "testnode"\n\n[volumes.a]\npath = ${JSON.stringify(w.path("a"))}\n\n[volumes.b]\npath = ${JSON.stringify(w.path("b"))}\n`);
    const r = await w.hoardAsync("volume", "add", "a", w.path("a"));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('volumes.b.path: is inside volume "a"');
    expect(existsSync(w.path("a/.hoard-volume"))).toBe(false);
  }, T);
});
