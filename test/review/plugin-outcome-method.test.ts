// Review: a destination plugin (no type checks) answering `ok: true` without a method for one file
// has compared nothing it names: that answer must not count as a content check for offload.

import { afterEach, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT, world, type World } from "../helpers.ts";

const worlds: World[] = [];
afterEach(() => {
  for (const w of worlds.splice(0)) w.cleanup();
});

test("an ok answer without a method (for b.txt, whose object is lost) is no check and no confirmation: b.txt is kept", () => {
  const w = world();
  worlds.push(w);
  const src = readFileSync(join(ROOT, "examples/dir-destination/index.ts"), "utf8");
  // every answer about b.txt comes without a method (and without reading anything back)
  const bad = src.replace(
    "  function check(root: AnchoredDir, index: Index, e: ManifestEntry, depth: ConfirmDepth | \"stored\" = \"content\"): FileOutcome {\n",
    "  function check(root: AnchoredDir, index: Index, e: ManifestEntry, depth: ConfirmDepth | \"stored\" = \"content\"): FileOutcome {\n    if (process.env.REVIEW_NOMETHOD && e.path === \"b.txt\") return { path: e.path, ok: true, verifiedAt: nowNs() } as any;\n",
  );
  expect(bad).not.toBe(src);
  const plugin = w.path("nomethod-dir.ts");
  writeFileSync(plugin, bad);
  mkdirSync(w.path("vol"), { recursive: true });
  mkdirSync(w.path("usb"));
  w.write("vol/a.txt", "alpha\n");
  w.write("vol/b.txt", "bravo\n");
  w.setConfig(
    `node = "testnode"\nplugins = [${JSON.stringify(plugin)}]\n\n[volumes.photos]\npath = ${JSON.stringify(w.path("vol"))}\nsync_to = ["usb"]\noffload_requires = ["usb"]\n\n` +
      `[destinations.usb]\ntype = "dir"\npath = ${JSON.stringify(w.path("usb"))}\n`,
  );
  expect(w.hoard("volume", "add", "photos", w.path("vol")).code).toBe(0);
  expect(w.hoard("index", "photos").code).toBe(0);
  expect(w.hoard("dest", "init", "usb").code).toBe(0);
  expect(w.hoard("sync", "photos").code).toBe(0); // a good sync first: evidence for both files
  // b.txt's stored object is lost; from now on every answer about it is ok without a method
  const blob = readdirSync(w.path("usb/blobs")).flatMap((d) => readdirSync(w.path(`usb/blobs/${d}`)).map((n) => w.path(`usb/blobs/${d}/${n}`))).find((f) => readFileSync(f, "utf8") === "bravo\n")!;
  rmSync(blob);
  w.env.REVIEW_NOMETHOD = "1";
  w.hoard("sync", "photos", "--json");
  const off = w.hoard("offload", "photos", ".", "--json");
  expect(off.json.offloaded).not.toContain("b.txt");
  expect(w.read("vol/b.txt")).toBe("bravo\n");
});
