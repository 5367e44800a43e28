// Review: a destination plugin (plain JavaScript, no type checks) whose live confirmation answers
// `ok: "false"` (a string) for a lost object must not let offload delete the local file.

import { afterEach, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, world, type World } from "../helpers.ts";

const worlds: World[] = [];
afterEach(() => {
  for (const w of worlds.splice(0)) w.cleanup();
});

test("a live confirmation answering ok: \"false\" (not the boolean true) keeps the file", () => {
  const w = world();
  worlds.push(w);
  // the example destination, with its presence answer for a missing object turned into ok: "false"
  const src = readFileSync(join(ROOT, "examples/dir-destination/index.ts"), "utf8");
  const bad = src.replace('ok: false, reason: "stored object is missing or has another size"', 'ok: "false" as any, reason: "stored object is missing or has another size"');
  expect(bad).not.toBe(src);
  const plugin = w.path("bad-dir.ts");
  writeFileSync(plugin, bad);
  mkdirSync(w.path("vol"), { recursive: true });
  mkdirSync(w.path("usb"));
  w.write("vol/a.txt", "alpha\n");
  w.setConfig(
    `node = "testnode"\nplugins = [${JSON.stringify(plugin)}]\n\n[volumes.photos]\npath = ${JSON.stringify(w.path("vol"))}\nsync_to = ["usb"]\noffload_requires = ["usb"]\n\n` +
      `[destinations.usb]\ntype = "dir"\npath = ${JSON.stringify(w.path("usb"))}\n`,
  );
  expect(w.hoard("volume", "add", "photos", w.path("vol")).code).toBe(0);
  expect(w.hoard("index", "photos").code).toBe(0);
  expect(w.hoard("dest", "init", "usb").code).toBe(0);
  expect(w.hoard("sync", "photos").code).toBe(0);
  // the stored object is lost behind hoard's back, right after a good sync
  for (const d of readdirSync(w.path("usb/blobs"))) for (const n of readdirSync(w.path(`usb/blobs/${d}`))) rmSync(w.path(`usb/blobs/${d}/${n}`));
  const off = w.hoard("offload", "photos", ".", "--json");
  expect(off.json.counts.offloaded).toBe(0);
  expect(off.json.counts.unconfirmed).toBe(1);
  expect(w.read("vol/a.txt")).toBe("alpha\n");
});

test("a push or verify answering ok: \"false\" (never stored) is not counted as verified", () => {
  const w = world();
  worlds.push(w);
  // the example destination, its content check of a missing object answering ok: "false": its push then
  // believes the object is stored already and never stores it
  const src = readFileSync(join(ROOT, "examples/dir-destination/index.ts"), "utf8");
  const bad = src.replace('if (!got) return { path: e.path, ok: false, reason: "stored object is missing", missing: true };', 'if (!got) return { path: e.path, ok: "false" as any, reason: "stored object is missing", missing: true };');
  expect(bad).not.toBe(src);
  const plugin = w.path("bad-dir.ts");
  writeFileSync(plugin, bad);
  mkdirSync(w.path("vol"), { recursive: true });
  mkdirSync(w.path("usb"));
  w.write("vol/a.txt", "alpha\n");
  w.setConfig(
    `node = "testnode"\nplugins = [${JSON.stringify(plugin)}]\n\n[volumes.photos]\npath = ${JSON.stringify(w.path("vol"))}\nsync_to = ["usb"]\noffload_requires = ["usb"]\n\n` +
      `[destinations.usb]\ntype = "dir"\npath = ${JSON.stringify(w.path("usb"))}\n`,
  );
  expect(w.hoard("volume", "add", "photos", w.path("vol")).code).toBe(0);
  expect(w.hoard("index", "photos").code).toBe(0);
  expect(w.hoard("dest", "init", "usb").code).toBe(0);
  const sync = w.hoard("sync", "photos", "--json");
  expect(sync.code).not.toBe(0);
  expect(sync.json.results[0].counts).toMatchObject({ verified: 0, failed: 1 });
  const v = w.hoard("verify", "usb", "photos", "--json");
  expect(v.code).not.toBe(0);
  expect(w.hoard("offload", "photos", ".", "--json").json.counts.offloaded).toBe(0);
  expect(w.read("vol/a.txt")).toBe("alpha\n");
});
