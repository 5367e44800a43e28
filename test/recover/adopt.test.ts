// `hoard dest adopt` through the CLI, against fs, an rclone local-path remote and kopia (the double): the way out after a
// lost database (here: an old backup put back) and after a SIGKILL between a destination's marker and its pin.

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { rows } from "../e2e/lib.ts";
import { cleanupWorlds, FILES, KINDS, recWorld, sameFiles } from "./lib.ts";

setDefaultTimeout(600_000);
afterAll(cleanupWorlds);

for (const kind of KINDS) {
  test.concurrent(`${kind}: (e) an old database put back: dest init refuses, dest adopt pins, verify grants evidence, offload works`, async () => {
    const w = recWorld(kind);
    await w.run(0, "volume", "add", "photos", w.volPath);
    const backup = w.path("before-dest-init.db");
    await w.run(0, "db", "backup", backup); // taken before the destination was initialised
    await w.run(0, "dest", "init", "d");
    await w.run(0, "index", "photos");
    await w.run(0, "sync", "photos");
    const marker = w.identity();
    w.loseDb();
    copyFileSync(backup, w.db);

    const init = await w.run(3, "dest", "init", "d", "--json");
    expect(init.json.error.code).toBe("dest_already_initialised");
    expect((await w.run(3, "dest", "reset", "d", "--yes", "--json")).json.error.code).toBe("dest_not_initialised");
    const adopt = await w.run(0, "dest", "adopt", "d", "--json");
    expect(adopt.json).toMatchObject({ destination: "d", identity: marker, epoch: 1, adopted: true });
    expect(rows(w, "SELECT kind, note FROM destination_events")).toEqual([{ kind: "init", note: expect.stringContaining("adopted") }]);
    expect((await w.run(3, "dest", "adopt", "d", "--json")).json.error.code).toBe("dest_already_pinned");

    // adopting grants nothing: the files are indexed again and nothing may be offloaded until verified
    await w.run(0, "index", "photos");
    expect((await w.run(0, "offload", "photos", ".", "--dry-run", "--json")).json.counts.offloadable).toBe(0);
    const v = await w.run(0, "verify", "d", "photos", "--json");
    expect(v.json.results[0].counts).toMatchObject({ verified: 3, transferred: 0 });
    const off = await w.run(0, "offload", "photos", ".", "--json");
    expect(off.json.counts.offloaded).toBe(3);
    await w.run(0, "restore", "photos");
    sameFiles(w.volPath, FILES);
  });

  test.concurrent(`${kind}: (f) SIGKILL at dest-init.marker: init and reset refuse naming the way out, dest adopt resolves it`, async () => {
    const w = recWorld(kind);
    await w.run(0, "volume", "add", "photos", w.volPath);
    w.env.HOARD_TEST_CRASH_AT = "dest-init.marker";
    const killed = await w.hoardAsync("dest", "init", "d");
    delete w.env.HOARD_TEST_CRASH_AT;
    expect(killed.code).not.toBe(0);
    expect(existsSync(w.markerFile())).toBe(true);
    expect(rows(w, "SELECT * FROM destinations")).toEqual([]);

    const init = await w.run(3, "dest", "init", "d", "--json");
    expect(init.json.error.hint).toContain("--adopt");
    const reset = await w.run(3, "dest", "reset", "d", "--yes", "--json");
    expect(reset.json.error.code).toBe("dest_not_initialised");
    const marker = w.identity();
    const adopt = await w.run(0, "dest", "adopt", "d", "--json");
    expect(adopt.json).toMatchObject({ identity: marker, adopted: true });

    await w.run(0, "index", "photos");
    await w.run(0, "sync", "photos");
    expect((await w.run(0, "offload", "photos", ".", "--json")).json.counts.offloaded).toBe(3);
    await w.run(0, "restore", "photos");
    sameFiles(w.volPath, FILES);
  });
}

test.concurrent("dest adopt refuses a destination with nothing to adopt, and names dest init", async () => {
  const w = recWorld("fs");
  await w.run(0, "volume", "add", "photos", w.volPath);
  // not there at all (unmounted?): a failure naming it
  expect((await w.run(1, "dest", "adopt", "d", "--json")).json.error.message).toContain("does not exist");
  mkdirSync(w.destPath); // there, but never initialised
  const r = await w.run(3, "dest", "adopt", "d", "--json");
  expect(r.json.error.code).toBe("dest_nothing_to_adopt");
  expect(r.json.error.hint).toContain("hoard dest init d");
  expect(rows(w, "SELECT * FROM destinations")).toEqual([]);
});
