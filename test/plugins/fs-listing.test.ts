// A push lists each destination directory once and skips the in-place check of a name that listing lacked:
// an object already there is still checked in place, and one that appears after the listing is still kept.

import { afterAll, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openFs } from "../../plugins/fs/index.ts";
import type { PushProbe } from "../../plugins/fs/push.ts";
import { Tree } from "../../plugins/fs/tree.ts";
import { openRoot } from "../../src/kernel/anchored.ts";
import type { FileOutcome } from "../../src/kernel/plugin.ts";
import { cleanup, fakeApi, makeCtx, makeVolume, tmp } from "../rclone/harness.ts";

afterAll(cleanup);

/** Every file below dir (relative paths). */
function files(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const d of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    if (d.isDirectory()) out.push(...files(dir, r));
    else out.push(r);
  }
  return out.sort();
}

test("Tree.lacks: known only for a directory this push tree listed, and only names absent from that listing", async () => {
  const root = tmp();
  mkdirSync(join(root, "a"));
  writeFileSync(join(root, "a", "x"), "x");
  const swept = new Tree(openRoot(root), true);
  swept.acquire(["a"]);
  expect(swept.lacks(["a"], "x")).toBe(false);
  expect(swept.lacks(["a"], "y")).toBe(true);
  expect(swept.lacks(["b"], "y")).toBe(false); // never opened
  expect(swept.lacks([], "y")).toBe(false); // the anchor itself is never listed
  swept.release(["a"]);
  await swept.close();
  const plain = new Tree(openRoot(root), false);
  plain.acquire(["a"]);
  expect(plain.lacks(["a"], "y")).toBe(false); // a tree that does not sweep does not list
  plain.release(["a"]);
  await plain.close();
});

test("objects present before the push are checked in place; one written after the listing is kept under history", async () => {
  const root = tmp();
  const content: Record<string, string> = {};
  for (let i = 0; i < 40; i++) content[`d/f${i}`] = `file ${i} `.repeat(i + 1);
  const vol = makeVolume(content);
  // at the destination already: f0 as indexed, f1 with other bytes
  mkdirSync(join(root, "vol", "d"), { recursive: true });
  writeFileSync(join(root, "vol", "d", "f0"), content["d/f0"]!);
  writeFileSync(join(root, "vol", "d", "f1"), "someone else's f1");
  // f30 appears once the directory was listed, before its copy is placed
  const probe: PushProbe = {
    step(kind) {
      if (kind === "data") writeFileSync(join(root, "vol", "d", "f30"), "written meanwhile");
    },
  };
  const h = openFs(fakeApi(), { path: root }, { name: "nas", stateDir: tmp() }, probe);
  await h.init();
  const out = (await h.push(vol.manifest, makeCtx(vol))) as FileOutcome[];
  expect(out.map((o) => o.path)).toEqual(vol.manifest.map((e) => e.path));
  for (const o of out) expect(o.ok).toBe(true);
  expect((out[0] as any).transferred).toBeUndefined(); // checked in place
  expect((out[1] as any).transferred).toBe(true);
  expect((out[30] as any).transferred).toBe(true);
  for (const [p, c] of Object.entries(content)) expect(readFileSync(join(root, "vol", p), "utf8")).toBe(c);
  const kept = files(join(root, "vol", ".hoard", "history"));
  expect(kept).toEqual(["run-7/d/f1", "run-7/d/f30"]);
  expect(readFileSync(join(root, "vol", ".hoard", "history", "run-7", "d", "f30"), "utf8")).toBe("written meanwhile");
  expect(readFileSync(join(root, "vol", ".hoard", "history", "run-7", "d", "f1"), "utf8")).toBe("someone else's f1");
});
