// Issue 12 at the fs destination: helper processes swap a directory inside the destination, and its .hoard,
// with symlinks to outside directories (renameat2 RENAME_EXCHANGE, back to back) while pushes replace every
// object. Nothing may be read from or written outside the destination; every ok outcome is really in place.

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startSwapper } from "./swap.ts";
import { openFs } from "../../plugins/fs/index.ts";
import type { FileOutcome } from "../../src/kernel/plugin.ts";
import { cleanup, entryFor, fakeApi, makeCtx, makeVolume, tmp } from "../rclone/harness.ts";

setDefaultTimeout(240_000);
afterAll(cleanup);

const list = (d: string) => readdirSync(d).sort();

test("DEST/v/sub and DEST/v/.hoard swapped back to back with symlinks to outside directories during pushes: nothing outside is read or written; every ok outcome is in place", async () => {
  const N = 150;
  const ROUNDS = 12;
  const names = Array.from({ length: N }, (_, i) => `f${String(i).padStart(3, "0")}.txt`);
  const content = (round: number, n: string) => `round ${round} of ${n}\n`;
  const vol = makeVolume(Object.fromEntries(names.map((n) => [`sub/${n}`, content(0, n)])));
  const root = tmp();
  const h = openFs(fakeApi(), { path: root }, { name: "nas", stateDir: tmp() });
  await h.init();
  expect(((await h.push(vol.manifest, makeCtx(vol, { runId: 1n }))) as FileOutcome[]).every((o) => o.ok)).toBe(true);
  writeFileSync(join(vol.root, "top.txt"), "top\n");
  const dv = join(root, "vol");
  // outside: a copy of the destination's tree with the same names and bytes (a followed link reads as "fine")
  const outside = tmp();
  for (const n of names) writeFileSync(join(outside, n), content(0, n));
  const outsideHoard = tmp();
  symlinkSync(outside, join(dv, "link"));
  // the history directory must exist to be swapped
  writeFileSync(join(vol.root, "top.txt"), "top, v2\n");
  await h.push([entryFor(vol.root, "top.txt")], makeCtx(vol, { runId: 2n }));
  writeFileSync(join(vol.root, "top.txt"), "top, v3\n");
  await h.push([entryFor(vol.root, "top.txt")], makeCtx(vol, { runId: 2n }));
  expect(list(join(dv, ".hoard/history/run-2"))).toEqual(["top.txt"]);
  symlinkSync(outsideHoard, join(dv, "hlink"));

  const swappers = [await startSwapper(join(dv, "sub"), join(dv, "link"), 500), await startSwapper(join(dv, ".hoard"), join(dv, "hlink"), 500)];
  const lastOk = new Map<string, string>(names.map((n) => [`sub/${n}`, content(0, n)]));
  let ok = 0;
  let refusedN = 0;
  for (let r = 1; r <= ROUNDS; r++) {
    for (const n of names) writeFileSync(join(vol.root, "sub", n), content(r, n));
    const manifest = names.map((n) => entryFor(vol.root, `sub/${n}`));
    const out = (await h.push(manifest, makeCtx(vol, { runId: 100n + BigInt(r) }))) as FileOutcome[];
    expect(out).toHaveLength(N);
    for (const o of out) {
      if (o.ok) {
        ok++;
        lastOk.set(o.path, content(r, o.path.slice(4)));
      } else {
        refusedN++;
        // a link met on the way (classified after the fact: by then the swapper may have swapped back)
        expect(o.reason).toMatch(/symbolic link|not a directory/);
      }
    }
  }
  const swaps = await Promise.all(swappers.map((s) => s.stop()));
  for (const s of swaps) expect(s).toBeGreaterThan(0); // both races really ran during the pushes
  console.error(`swaps ${swaps.join("/")}, ok ${ok}, refused ${refusedN}`);

  // 1. nothing outside was written (no new names, no temps, no history), nothing changed there
  expect(list(outside)).toEqual(names);
  for (const n of names) expect(readFileSync(join(outside, n), "utf8")).toBe(content(0, n));
  expect(list(outsideHoard)).toEqual([]);
  // 2. the swappers left the real directories at their names: every ok outcome is there, with its bytes
  for (const n of names) expect(readFileSync(join(dv, "sub", n), "utf8")).toBe(lastOk.get(`sub/${n}`)!);
  expect(list(join(dv, "sub")).filter((n) => n.startsWith(".hoard-tmp-"))).toEqual([]);
  // 3. each replaced object is kept in the real history directory
  const kept = readdirSync(join(dv, ".hoard/history")).filter((d) => d.startsWith("run-1"));
  expect(kept.length).toBeGreaterThan(0);
});
