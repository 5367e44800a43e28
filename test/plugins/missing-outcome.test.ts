// A handler's `missing: true` (the object is absent at the destination) reaches the user: `verify --json`
// tells a lost object from a damaged one in `failures`, through the real CLI and the fs destination.

import { afterEach, expect, test } from "bun:test";
import { rmSync, writeFileSync } from "node:fs";
import type { World } from "../helpers.ts";
import { code, syncedWorld } from "../e2e/lib.ts";

let w: World | undefined;
afterEach(() => w?.cleanup());

test("verify --json: a deleted object is missing, a same-size damaged one is not", async () => {
  w = await syncedWorld();
  rmSync(w.path("nas/photos/a.txt"));
  writeFileSync(w.path("nas/photos/dir/b.txt"), "BRAVO\n"); // same size, other bytes
  const v = code(await w.hoardAsync("verify", "nas", "photos", "--json"), 4);
  const failures = [...v.json.results[0].failures].sort((x: any, y: any) => x.path.localeCompare(y.path));
  expect(failures).toEqual([
    { path: "a.txt", reason: expect.any(String), offloaded: false, missing: true },
    { path: "dir/b.txt", reason: expect.any(String), offloaded: false, missing: false },
  ]);
  // nothing wrong: nothing reported
  const s = code(await w.hoardAsync("sync", "photos", "--to", "nas", "--json"), 0);
  expect(s.json.results[0].failures).toEqual([]);
});
