// The status aggregates (schema v5, kept by triggers) after every real workflow: index (new, changed,
// deleted files), sync, offload, restore, evidence expire, a failed check, and recover onto a fresh
// DB: each time they equal a full recount from the base tables, and `status` reports from them.

import { afterEach, describe, expect, test } from "bun:test";
import { unlinkSync, writeFileSync } from "node:fs";
import { openDb } from "../../src/kernel/db.ts";
import { fileClasses, objectClasses, recountFileClasses, recountObjectClasses } from "../../src/kernel/aggregates.ts";
import { fsWorld, type World } from "../helpers.ts";
import { cleanupWorlds, syncedWorld } from "../recover/lib.ts";

let worlds: World[] = [];
afterEach(() => {
  for (const w of worlds) w.cleanup();
  worlds = [];
  cleanupWorlds();
});

/** The aggregates equal a recount, for every volume and destination of the DB; returns the file classes. */
function expectRecount(dbPath: string, volume: string, dests: string[]) {
  const db = openDb(dbPath, { create: false });
  try {
    const files = fileClasses(db, volume);
    expect(files).toEqual(recountFileClasses(db, volume));
    for (const d of dests) expect(objectClasses(db, volume, d)).toEqual(recountObjectClasses(db, volume, d));
    return { files, objects: dests.map((d) => objectClasses(db, volume, d)) };
  } finally {
    db.close();
  }
}

const ok = (r: { code: number; stderr: string; stdout: string }, code = 0) => {
  if (r.code !== code) throw new Error(`expected exit ${code}, got ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
};

describe("aggregates after every workflow", () => {
  test("index, sync, offload, restore, expire, a failed check: always equal to a recount", () => {
    const w = fsWorld({ extraDests: ["usb"], require: ["nas"] });
    worlds.push(w);
    w.setConfig(w.read("config.toml").replace(/^node = .*$/m, (l) => `${l}\nmax_evidence_age = "1d"`));
    const check = () => expectRecount(w.db, "photos", ["nas", "usb"]);
    ok(w.hoard("index", "photos"));
    expect(check().files.map((c) => [c.status, Number(c.files)])).toEqual([["present", 3]]);
    ok(w.hoard("sync", "photos"));
    expect(check().objects[0]!.reduce((n, c) => n + Number(c.files), 0)).toBe(3);
    // a changed, a new and a deleted file
    writeFileSync(w.path("vol/a.txt"), "alpha, changed\n");
    w.write("vol/new.txt", "new\n");
    unlinkSync(w.path("vol/dir/b.txt"));
    ok(w.hoard("index", "photos"));
    check();
    ok(w.hoard("sync", "photos"));
    check();
    ok(w.hoard("offload", "photos", "dir"));
    const after = check();
    expect(after.files.filter((c) => c.status === "offloaded").reduce((n, c) => n + Number(c.files), 0)).toBe(1);
    ok(w.hoard("restore", "photos", "dir"));
    check();
    ok(w.hoard("offload", "photos", "new.txt"));
    check();
    // a failed check at the destination: the object there damaged, then verified
    writeFileSync(w.path("nas/photos/a.txt"), "tampered\n");
    w.hoard("verify", "nas", "photos");
    check();
    ok(w.hoard("evidence", "expire"));
    check();
    const s = ok(w.hoard("status", "--json"), 0).stdout;
    const st = JSON.parse(s).volumes[0];
    const db = openDb(w.db, { create: false });
    try {
      const counts = Object.fromEntries(db.all<{ status: string; n: bigint }>("SELECT status, count(*) AS n FROM files WHERE volume = 'photos' GROUP BY status").map((r) => [r.status, Number(r.n)]));
      expect(Object.fromEntries(Object.entries(st.files as Record<string, { files: number }>).map(([k, v]) => [k, v.files]))).toEqual(counts);
    } finally {
      db.close();
    }
  }, 240_000);

  test("recover onto a fresh DB: the aggregates are built as the rows come back", async () => {
    const w = await syncedWorld("fs");
    await w.run(0, "offload", "photos", "dir");
    await w.run(0, "sync", "photos");
    w.loseDb();
    await w.run(0, "recover", "--from", "d", "--json");
    const { files } = expectRecount(w.db, "photos", ["d"]);
    expect(files.reduce((n, c) => n + Number(c.files), 0)).toBe(3);
  }, 240_000);
});
