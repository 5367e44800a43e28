// hoard's own temp names (DESIGN invariant 8): never indexed; the next index removes leftovers of an interrupted
// run through anchored handles (a link is removed, never followed); an unknown offload leftover is kept.

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { code, liveStatus, syncedWorld, cleanupWorlds } from "../e2e/lib.ts";

setDefaultTimeout(240_000);
afterAll(cleanupWorlds);

test.concurrent("leftover temps are never indexed and are removed by the next index; links are not followed; unknown content is kept", async () => {
  const w = await syncedWorld();
  const restoreTmp = `vol/dir/.hoard-restore-${randomUUID()}`;
  const knownOffload = `vol/dir/.hoard-offload-${randomUUID()}`; // the bytes of dir/b.txt, moved aside by a crashed offload
  const unknownOffload = `vol/.hoard-offload-${randomUUID()}`;
  const linkTmp = `vol/dir/sub/.hoard-tmp-${randomUUID()}`;
  w.write(restoreTmp, "half a restore");
  w.write(knownOffload, "bravo\n");
  w.write(unknownOffload, "bytes hoard never indexed\n");
  mkdirSync(w.path("outside"));
  w.write("outside/target", "outside\n");
  symlinkSync(w.path("outside/target"), w.path(linkTmp));
  w.write("vol/.hoard-restore-notes.txt", "a user's file with a reserved prefix\n");

  const idx = code(await w.hoardAsync("index", "photos", "--json"), 0);
  expect(idx.json.counts).toMatchObject({ leftovers_removed: 3, new: 0, unchanged: 3 });
  expect(existsSync(w.path(restoreTmp))).toBe(false);
  expect(existsSync(w.path(knownOffload))).toBe(false);
  expect(() => lstatSync(w.path(linkTmp))).toThrow();
  expect(readFileSync(w.path("outside/target"), "utf8")).toBe("outside\n");
  // not provably a copy of an indexed file: kept and reported
  expect(readFileSync(w.path(unknownOffload), "utf8")).toBe("bytes hoard never indexed\n");
  const kinds = Object.fromEntries(idx.json.problems.map((p: any) => [p.path, p.kind]));
  expect(kinds[unknownOffload.slice(4)]).toBe("leftover_kept");
  expect(kinds[".hoard-restore-notes.txt"]).toBe("reserved_name");
  expect(readFileSync(w.path("vol/.hoard-restore-notes.txt"), "utf8")).toBe("a user's file with a reserved prefix\n");
  expect(Object.keys(liveStatus(w)).sort()).toEqual(["a.txt", "dir/b.txt", "dir/sub/c.bin"]);
  expect(readFileSync(w.path("vol/dir/b.txt"), "utf8")).toBe("bravo\n");
});
