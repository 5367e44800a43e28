// The example third-party destination examples/dir-destination through the real CLI, loaded from disk by
// `plugins = [...]`: init, sync, offload, restore, and a lost stored object caught by verify.

import { afterEach, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ROOT, world, type World } from "../helpers.ts";

const PLUGIN = join(ROOT, "examples/dir-destination/index.ts");
const worlds: World[] = [];
afterEach(() => {
  for (const w of worlds.splice(0)) w.cleanup();
});

function dirWorld(): World {
  const w = world();
  worlds.push(w);
  mkdirSync(w.path("vol/dir"), { recursive: true });
  mkdirSync(w.path("usb"));
  w.write("vol/a.txt", "alpha\n");
  w.write("vol/dir/-b $(x).txt", "bravo\n");
  w.setConfig(
    `node = "testnode"\nplugins = [${JSON.stringify(PLUGIN)}]\n\n[volumes.photos]\npath = ${JSON.stringify(w.path("vol"))}\nsync_to = ["usb"]\noffload_requires = ["usb"]\n\n` +
      `[destinations.usb]\ntype = "dir"\npath = ${JSON.stringify(w.path("usb"))}\n`,
  );
  expect(w.hoard("volume", "add", "photos", w.path("vol")).code).toBe(0);
  return w;
}

const blobs = (w: World) => readdirSync(w.path("usb/blobs")).flatMap((d) => readdirSync(w.path(`usb/blobs/${d}`)).map((n) => w.path(`usb/blobs/${d}/${n}`)));

test("hoard plugins lists it with its destination type; its options are validated (exit 2)", () => {
  const w = dirWorld();
  const p = w.hoard("plugins", "--json").json.plugins.at(-1);
  expect(p).toMatchObject({ name: "dir-destination", source: PLUGIN, destination_types: ["dir"] });
  w.setConfig(readFileSync(w.config, "utf8").replace(/^path = ".*usb"$/m, 'path = "relative/usb"'));
  const r = w.hoard("status", "--json");
  expect(r.code).toBe(2);
  expect(r.stderr).toContain("must be an absolute path");
});

test("sync before dest init is refused; init, sync, offload and restore round-trip the bytes", () => {
  const w = dirWorld();
  expect(w.hoard("index", "photos").code).toBe(0);
  expect(w.hoard("sync", "photos").code).toBe(3); // not initialised: nothing is pinned yet
  expect(existsSync(w.path("usb/blobs"))).toBe(false);
  expect(w.hoard("dest", "init", "usb").code).toBe(0);
  const sync = w.hoard("sync", "photos", "--json");
  expect(sync.code).toBe(0);
  expect(sync.json.results[0].counts.verified).toBe(2);
  expect(blobs(w)).toHaveLength(2);
  const off = w.hoard("offload", "photos", ".", "--json");
  expect(off.code).toBe(0);
  expect(off.json.counts.offloaded).toBe(2);
  expect(existsSync(w.path("vol/a.txt"))).toBe(false);
  const res = w.hoard("restore", "photos", "--json");
  expect(res.code).toBe(0);
  expect(res.json.counts.restored).toBe(2);
  expect(w.read("vol/a.txt")).toBe("alpha\n");
  expect(w.read("vol/dir/-b $(x).txt")).toBe("bravo\n");
});

test("a stored object lost behind hoard's back: verify reports it and offload keeps the file", () => {
  const w = dirWorld();
  expect(w.hoard("index", "photos").code).toBe(0);
  expect(w.hoard("dest", "init", "usb").code).toBe(0);
  expect(w.hoard("sync", "photos").code).toBe(0);
  for (const b of blobs(w)) rmSync(b);
  const v = w.hoard("verify", "usb", "photos", "--json");
  expect(v.code).not.toBe(0);
  const off = w.hoard("offload", "photos", ".", "--json");
  expect(off.json.counts.offloaded).toBe(0);
  expect(w.read("vol/a.txt")).toBe("alpha\n");
});
