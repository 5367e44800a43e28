// Review attacks on the offload gate decided per file class (one cursor, each distinct class once):
// files of one class that differ only in their object checks, shared content, several required destinations.

import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { code, read, row, cleanupWorlds, syncedWorld, liveStatus } from "../e2e/lib.ts";
import { openDb } from "../../src/kernel/db.ts";
import type { World } from "../helpers.ts";

setDefaultTimeout(180_000);
afterAll(cleanupWorlds);

/** Change the DB directly (what a lost, stale or failed record would look like), through the triggers. */
function sql(w: World, text: string, ...params: (string | number | bigint | null)[]) {
  const db = openDb(w.db);
  try {
    db.run(text, ...params);
  } finally {
    db.close();
  }
}

const FILES = { "a.txt": "same bytes\n", "b.txt": "same bytes\n", "c.txt": "same bytes\n", "d.txt": "same bytes\n", "e.txt": "other\n" };

describe("files of one class that differ only in their object checks", () => {
  test.concurrent("shared content on several paths: a lost, failed, other-epoch or never-compared record keeps exactly that file", async () => {
    const w = await syncedWorld({ files: FILES });
    // a, b, c, d share content, origin run and status-changed run: one class; only their records differ
    expect(row<{ n: bigint }>(w, "SELECT count(DISTINCT content_id) AS n FROM files WHERE path IN ('a.txt','b.txt','c.txt','d.txt')")!.n).toBe(1n);
    sql(w, "DELETE FROM dest_objects WHERE path = 'b.txt'");
    sql(w, "UPDATE dest_objects SET ok = 0, reason = 'differs' WHERE path = 'c.txt'");
    sql(w, "UPDATE dest_objects SET epoch = epoch + 1 WHERE path = 'd.txt'");
    sql(w, "UPDATE dest_objects SET checked_run = NULL WHERE path = 'e.txt'");
    const dry = code(await w.hoardAsync("offload", "photos", ".", "--dry-run", "--json"), 0);
    expect(dry.json.would_offload.map((f: any) => f.path)).toEqual(["a.txt"]);
    const off = await w.hoardAsync("offload", "photos", ".", "--json");
    expect(off.json.offloaded).toEqual(["a.txt"]);
    const codes = Object.fromEntries(off.json.refusals.flatMap((r: any) => r.examples.map((p: string) => [p, r.code])));
    expect(codes).toEqual({ "b.txt": "no_content_check", "c.txt": "last_check_failed", "d.txt": "no_content_check", "e.txt": "not_confirmed" });
    for (const p of ["b.txt", "c.txt", "d.txt", "e.txt"]) expect(existsSync(w.path(`vol/${p}`))).toBe(true);
    expect(liveStatus(w)).toEqual({ "a.txt": "offloaded", "b.txt": "present", "c.txt": "present", "d.txt": "present", "e.txt": "present" });
  });

  test.concurrent("a copy made after the sync (same content, its origin run covered) has no record at its path: kept", async () => {
    const w = await syncedWorld({ files: { "a.txt": "shared\n" } });
    w.write("vol/copy.txt", "shared\n");
    code(await w.hoardAsync("index", "photos"), 0);
    const off = await w.hoardAsync("offload", "photos", ".", "--json");
    expect(off.json.offloaded).toEqual(["a.txt"]);
    expect(off.json.refusals.map((r: any) => `${r.code}:${r.examples.join(",")}`)).toEqual(["no_content_check:copy.txt"]);
    expect(read(w, "vol/copy.txt")).toBe("shared\n");
  });

  test.concurrent("a record whose method policy refuses (size only) keeps that file, not the rest of its class", async () => {
    const w = await syncedWorld({ files: FILES });
    sql(w, "UPDATE dest_objects SET method = 'size' WHERE path = 'b.txt'");
    const off = await w.hoardAsync("offload", "photos", "a.txt", "b.txt", "--json");
    expect(off.json.offloaded).toEqual(["a.txt"]);
    expect(off.json.refusals.map((r: any) => `${r.code}:${r.examples.join(",")}`)).toEqual(["method_not_accepted:b.txt"]);
    expect(read(w, "vol/b.txt")).toBe("same bytes\n");
  });
});

describe("several required destinations", () => {
  test.concurrent("a required destination added to the config after the sync: nothing goes", async () => {
    const w = await syncedWorld({ files: FILES, extraDests: ["usb"] });
    w.setConfig(require_(w, ["nas", "usb"]));
    const off = await w.hoardAsync("offload", "photos", ".", "--json");
    expect(off.json.counts.offloaded).toBe(0);
    expect(off.json.refusals.map((r: any) => `${r.destination}:${r.code}:${r.files}`)).toEqual(["usb:no_evidence:5"]);
    for (const p of Object.keys(FILES)) expect(existsSync(w.path(`vol/${p}`))).toBe(true);
  });

  test.concurrent("each file's checks stay aligned with their destination (order of offload_requires ≠ order synced)", async () => {
    const w = await syncedWorld({ files: FILES, extraDests: ["usb"] });
    code(await w.hoardAsync("sync", "photos", "--to", "usb"), 0);
    w.setConfig(require_(w, ["usb", "nas"]));
    sql(w, "UPDATE dest_objects SET ok = 0, reason = 'differs' WHERE destination = 'nas' AND path = 'a.txt'");
    sql(w, "DELETE FROM dest_objects WHERE destination = 'usb' AND path = 'b.txt'");
    sql(w, "UPDATE dest_objects SET epoch = epoch + 1 WHERE destination = 'nas' AND path = 'c.txt'");
    const off = await w.hoardAsync("offload", "photos", ".", "--json");
    expect(off.json.offloaded).toEqual(["d.txt", "e.txt"]);
    const got = off.json.refusals.flatMap((r: any) => r.examples.map((p: string) => `${p}:${r.destination}:${r.code}`)).sort();
    expect(got).toEqual(["a.txt:nas:last_check_failed", "b.txt:usb:no_content_check", "c.txt:nas:no_content_check"]);
    for (const p of ["a.txt", "b.txt", "c.txt"]) expect(read(w, `vol/${p}`)).toBe("same bytes\n");
  });
});

describe("between the decision and the unlink", () => {
  test.concurrent("a dry run says yes, then one object of the class disappears at the destination: the live offload keeps it", async () => {
    const w = await syncedWorld({ files: FILES });
    const dry = code(await w.hoardAsync("offload", "photos", ".", "--dry-run", "--json"), 0);
    expect(dry.json.would_offload.length).toBe(5);
    rmSync(w.path("nas/photos/c.txt"));
    const off = await w.hoardAsync("offload", "photos", ".", "--json");
    expect(off.code).toBe(4);
    expect(off.json.offloaded.sort()).toEqual(["a.txt", "b.txt", "d.txt", "e.txt"]);
    expect(off.json.problems.map((p: any) => `${p.path}:${p.code}`)).toEqual(["c.txt:unconfirmed"]);
    expect(read(w, "vol/c.txt")).toBe("same bytes\n");
  });
});

/** The world's config with other required destinations (nas and usb both fs). */
function require_(w: World, req: string[]): string {
  return readFileSync(w.config, "utf8").replace(/offload_requires = \[[^\]]*\]/, `offload_requires = ${JSON.stringify(req)}`);
}
