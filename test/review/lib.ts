// Shared by the review tests: a world whose one required destination is the example dir-destination
// plugin with one line of its source patched (a plugin that answers in a wrong shape, or fails).

import { afterEach, expect } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, world, type World } from "../helpers.ts";

const worlds: World[] = [];
afterEach(() => {
  for (const w of worlds.splice(0)) w.cleanup();
});

/**
 * Volume photos (files), required destination usb of the patched example type "dir"; indexed and the
 * destination initialised. `patch` must change the example's source (asserted).
 */
export function patchedDirWorld(files: Record<string, string>, patch: (src: string) => string): World {
  const w = world();
  worlds.push(w);
  const src = readFileSync(join(ROOT, "examples/dir-destination/index.ts"), "utf8");
  const bad = patch(src);
  expect(bad).not.toBe(src);
  const plugin = w.path("patched-dir.ts");
  writeFileSync(plugin, bad);
  mkdirSync(w.path("vol"), { recursive: true });
  mkdirSync(w.path("usb"));
  for (const [p, c] of Object.entries(files)) w.write(`vol/${p}`, c);
  w.setConfig(
    `node = "testnode"\nplugins = [${JSON.stringify(plugin)}]\n\n[volumes.photos]\npath = ${JSON.stringify(w.path("vol"))}\nsync_to = ["usb"]\noffload_requires = ["usb"]\n\n` +
      `[destinations.usb]\ntype = "dir"\npath = ${JSON.stringify(w.path("usb"))}\n`,
  );
  expect(w.hoard("volume", "add", "photos", w.path("vol")).code).toBe(0);
  expect(w.hoard("index", "photos").code).toBe(0);
  expect(w.hoard("dest", "init", "usb").code).toBe(0);
  return w;
}
