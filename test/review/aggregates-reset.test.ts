// Review attack on the trigger-kept status aggregates: a destination reset (new epoch) and a wipe, then a
// resync; status's offloadable count must equal what offload itself would delete, and the aggregates a recount.

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { rmSync } from "node:fs";
import { openDb } from "../../src/kernel/db.ts";
import { fileClasses, objectClasses, recountFileClasses, recountObjectClasses } from "../../src/kernel/aggregates.ts";
import { cleanupWorlds, code, syncedWorld } from "../e2e/lib.ts";
import type { World } from "../helpers.ts";

setDefaultTimeout(180_000);
afterAll(cleanupWorlds);

function expectRecount(w: World) {
  const db = openDb(w.db, { create: false });
  try {
    expect(fileClasses(db, "photos")).toEqual(recountFileClasses(db, "photos"));
    expect(objectClasses(db, "photos", "nas")).toEqual(recountObjectClasses(db, "photos", "nas"));
  } finally {
    db.close();
  }
}

/** status's offloadable files must be exactly the dry run's would_offload. */
async function expectStatusAgrees(w: World, expected: number) {
  const st = code(await w.hoardAsync("status", "photos", "--json"), 0).json;
  const vol = Array.isArray(st.volumes) ? st.volumes.find((v: any) => v.volume === "photos") : st;
  const dry = code(await w.hoardAsync("offload", "photos", ".", "--dry-run", "--json"), 0).json;
  expect(dry.would_offload.length).toBe(expected);
  expect(vol.offloadable.files).toBe(expected);
  expectRecount(w);
}

test("dest reset (new epoch) after a wipe, then a resync: status never says offloadable what offload would keep", async () => {
  const w = await syncedWorld();
  await expectStatusAgrees(w, 3);
  rmSync(w.path("nas/photos"), { recursive: true, force: true });
  code(await w.hoardAsync("dest", "reset", "nas", "--yes"), 0);
  await expectStatusAgrees(w, 0);
  code(await w.hoardAsync("sync", "photos", "--to", "nas"), 0);
  await expectStatusAgrees(w, 3);
  code(await w.hoardAsync("offload", "photos", "a.txt"), 0);
  await expectStatusAgrees(w, 2);
});
