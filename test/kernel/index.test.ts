// Invariant 8 and the index state machine through the real CLI: new, unchanged, changed
// (supersede), reverted, missing only after a clean walk, reappeared, offloaded rows untouched,
// --dry-run, --shallow; and bad input: non-UTF-8 names, unreadable entries, symlinks, FIFOs,
// sockets, a file changing while hashed, reserved names. Nothing is silently dropped.

import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync, rmSync, appendFileSync, openSync, closeSync } from "node:fs";
import { spawn, spawnSync } from "node:child_process";
import { createServer, type Server } from "node:net";
import { randomBytes } from "node:crypto";
import { blake3 } from "@noble/hashes/blake3.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import type { World } from "../helpers.ts";
import { dumpDb, filesOf, hoardUnprivileged, j, liveRow, prepareUnprivileged, quickWorld, runsOf, withDb, Worlds } from "./util.ts";

const worlds = new Worlds();
afterAll(() => worlds.cleanup());
const fw = (): World => worlds.track(quickWorld());
const T = 180_000; // per-test timeout: every step is a real child process
const ref = (s: string | Uint8Array) => bytesToHex(blake3(typeof s === "string" ? new TextEncoder().encode(s) : s));
const idx = async (w: World, ...flags: string[]) => {
  const r = await w.hoardAsync("index", "photos", "--json", ...flags);
  if (r.json === undefined) throw new Error(`no JSON from index: ${r.code} ${r.stderr}`);
  return r;
};
const live = (w: World) => filesOf(w.db).filter((f) => f.status !== "superseded");
const contentCount = (w: World) => withDb(w.db, (db) => Number((db.query("SELECT count(*) AS n FROM content").get() as any).n));

describe.concurrent("index state machine", () => {
  test("new, unchanged, changed (old row superseded), reverted A→B→A", async () => {
    const w = fw();
    const r1 = await idx(w);
    expect(r1.code).toBe(0);
    expect(r1.json.counts).toMatchObject({ files: 3, new: 3, changed: 0, unchanged: 0, errors: 0, skipped: 0 });
    const run1 = BigInt(r1.json.run_id);
    let rows = filesOf(w.db);
    expect(rows.map((r) => [r.path, r.status]).sort()).toEqual([["a.txt", "present"], ["dir/b.txt", "present"], ["dir/sub/c.bin", "present"]]);
    for (const r of rows) expect([r.first_seen_run, r.last_seen_run, r.status_changed_run]).toEqual([run1, run1, run1]);
    expect(rows.find((r) => r.path === "a.txt").blake3).toBe(ref("alpha\n")); // the reference BLAKE3
    // content origin: this node, this run
    withDb(w.db, (db) => {
      for (const c of db.query("SELECT * FROM content").all() as any[]) expect([c.origin_node, c.origin_run]).toEqual(["testnode", run1]);
    });

    const r2 = await idx(w);
    expect(r2.json.counts).toMatchObject({ new: 0, changed: 0, unchanged: 3, reverted: 0, missing: 0 });
    expect(r2.json.changed).toBe(false);
    rows = filesOf(w.db);
    expect(rows.length).toBe(3);
    for (const r of rows) expect(r.last_seen_run).toBe(BigInt(r2.json.run_id));

    w.write("vol/a.txt", "ALPHA version two\n");
    const r3 = await idx(w);
    const run3 = BigInt(r3.json.run_id);
    expect(r3.json.counts).toMatchObject({ new: 0, changed: 1, unchanged: 2, reverted: 0 });
    const a = filesOf(w.db).filter((r) => r.path === "a.txt");
    expect(a.map((r) => r.status)).toEqual(["superseded", "present"]);
    expect(a[0].status_changed_run).toBe(run3);
    expect(a[0].blake3).toBe(ref("alpha\n")); // the old row keeps its content: nothing rewritten
    expect(a[1].blake3).toBe(ref("ALPHA version two\n"));
    expect(a[1].first_seen_run).toBe(run3);
    const contents = contentCount(w);
    expect(contents).toBe(4);

    w.write("vol/a.txt", "alpha\n");
    const r4 = await idx(w);
    expect(r4.json.counts).toMatchObject({ new: 0, changed: 0, reverted: 1, unchanged: 2 });
    const a2 = filesOf(w.db).filter((r) => r.path === "a.txt");
    expect(a2.map((r) => r.status)).toEqual(["superseded", "superseded", "present"]);
    expect(a2[2].blake3).toBe(ref("alpha\n"));
    expect(contentCount(w)).toBe(contents); // the old content row is reused, origin unchanged
    expect(live(w).length).toBe(3); // at most one live row per path
  }, T);

  test("missing only after a clean walk; missing → reappeared", async () => {
    const w = fw();
    expect((await idx(w)).code).toBe(0);
    const b0 = liveRow(w.db, "dir/b.txt");
    unlinkSync(w.path("vol/dir/b.txt"));
    // a per-file error (a name that is not UTF-8) makes the walk unclean: nothing goes missing
    const bad = Buffer.concat([Buffer.from(w.path("vol") + "/"), Buffer.from([0x62, 0x61, 0x64, 0xff, 0x2e, 0x74])]);
    writeFileSync(bad, "x");
    const p = await idx(w);
    expect(p.code).toBe(4);
    expect(p.json.status).toBe("partial");
    expect(p.json.counts.missing).toBe(0);
    expect(p.json.counts.errors).toBe(1);
    expect(j(liveRow(w.db, "dir/b.txt"))).toBe(j(b0));
    expect(runsOf(w.db).at(-1).status).toBe("partial");
    expect(p.stderr).toMatch(/not marked missing/);
    unlinkSync(bad);

    const m = await idx(w);
    expect(m.code).toBe(0);
    expect(m.json.counts.missing).toBe(1);
    const gone = liveRow(w.db, "dir/b.txt");
    expect(gone.status).toBe("missing");
    expect(gone.id).toBe(b0.id);
    expect(gone.status_changed_run).toBe(BigInt(m.json.run_id));
    // still missing: not counted again, not re-flipped
    const m2 = await idx(w);
    expect(m2.json.counts.missing).toBe(0);
    expect(liveRow(w.db, "dir/b.txt").status_changed_run).toBe(BigInt(m.json.run_id));

    w.write("vol/dir/b.txt", "bravo\n");
    const back = await idx(w);
    expect(back.json.counts).toMatchObject({ reappeared: 1, new: 0, changed: 0 });
    const b1 = liveRow(w.db, "dir/b.txt");
    expect(b1.id).toBe(b0.id);
    expect(b1.status).toBe("present");
    expect(b1.status_changed_run).toBe(BigInt(back.json.run_id));
  }, T);

  test("offloaded rows are never touched: a file at that path is reported as offloaded_conflict", async () => {
    const w = fw();
    expect((await idx(w)).code).toBe(0);
    withDb(w.db, (db) => db.run("UPDATE files SET status = 'offloaded' WHERE path = 'a.txt' AND status = 'present'"));
    const before = j(liveRow(w.db, "a.txt"));
    w.write("vol/a.txt", "a different file now lives here\n");
    const r = await idx(w);
    expect(r.code).toBe(0);
    expect(r.json.counts.offloaded_conflicts).toBe(1);
    expect(r.json.problems).toContainEqual(expect.objectContaining({ path: "a.txt", kind: "offloaded_conflict" }));
    expect(j(liveRow(w.db, "a.txt"))).toBe(before);
    expect(filesOf(w.db).filter((f) => f.path === "a.txt").length).toBe(1);
    // and with no file there, it is not "missing" either
    unlinkSync(w.path("vol/a.txt"));
    const r2 = await idx(w);
    expect(r2.json.counts.missing).toBe(0);
    expect(j(liveRow(w.db, "a.txt"))).toBe(before);
  }, T);

  test("--dry-run reports what would change and writes nothing", async () => {
    const w = fw();
    const d0 = dumpDb(w.db);
    const first = await idx(w, "--dry-run");
    expect(first.code).toBe(0);
    expect(first.json).toMatchObject({ dry_run: true, run_id: null });
    expect(first.json.counts.new).toBe(3);
    expect(dumpDb(w.db)).toBe(d0);
    expect((await idx(w)).code).toBe(0);
    w.write("vol/a.txt", "changed\n");
    w.write("vol/new.txt", "new\n");
    unlinkSync(w.path("vol/dir/sub/c.bin"));
    const d1 = dumpDb(w.db);
    const r = await idx(w, "--dry-run");
    expect(r.json.counts).toMatchObject({ new: 1, changed: 1, missing: 1, unchanged: 1 });
    expect(dumpDb(w.db)).toBe(d1);
  }, T);

  test("--shallow trusts size+mtime (skips hashing); a full index sees the change", async () => {
    const w = fw();
    const SEC = 1_700_000_000; // whole seconds, so the mtime can be put back exactly
    utimesSync(w.path("vol/a.txt"), SEC, SEC);
    expect((await idx(w)).code).toBe(0);
    const a0 = liveRow(w.db, "a.txt");
    expect(a0.mtime_ns).toBe(BigInt(SEC) * 1_000_000_000n);
    w.write("vol/a.txt", "ALPHA\n"); // same size (6 bytes), other content
    utimesSync(w.path("vol/a.txt"), SEC, SEC);
    expect(statSync(w.path("vol/a.txt"), { bigint: true }).mtimeNs).toBe(a0.mtime_ns);
    const s = await idx(w, "--shallow");
    expect(s.code).toBe(0);
    expect(s.json.counts).toMatchObject({ unchanged: 3, changed: 0, hashed_bytes: 0 });
    expect(liveRow(w.db, "a.txt").blake3 ?? filesOf(w.db).find((f) => f.path === "a.txt" && f.status === "present").blake3).toBe(ref("alpha\n"));
    // shallow still hashes what is new or has another size/mtime
    w.write("vol/new.txt", "fresh\n");
    const s2 = await idx(w, "--shallow");
    expect(s2.json.counts).toMatchObject({ new: 1, unchanged: 3, hashed_bytes: 6 });
    const full = await idx(w);
    expect(full.json.counts).toMatchObject({ changed: 1, unchanged: 3 });
    expect(filesOf(w.db).find((f) => f.path === "a.txt" && f.status === "present").blake3).toBe(ref("ALPHA\n"));
  }, T);
});

describe.concurrent("index: bad input is reported and counted, never silently dropped", () => {
  test("names that are not valid UTF-8 (file and directory) and names with line breaks", async () => {
    const w = fw();
    const vol = Buffer.from(w.path("vol") + "/");
    writeFileSync(Buffer.concat([vol, Buffer.from([0x66, 0xe9, 0x74, 0x65, 0x2e, 0x6a, 0x70, 0x67])]), "latin-1 name"); // "fête.jpg" in latin-1
    const dir = Buffer.concat([vol, Buffer.from([0x64, 0xff, 0xfe])]);
    mkdirSync(dir);
    writeFileSync(Buffer.concat([dir, Buffer.from("/inside.txt")]), "inside");
    w.write("vol/line\nbreak.txt", "nl");
    const r = await idx(w);
    expect(r.code).toBe(4);
    expect(r.json.status).toBe("partial");
    const bad = r.json.problems.filter((p: any) => p.kind === "bad_name");
    expect(bad.length).toBe(3);
    expect(r.json.counts.errors).toBe(3);
    for (const p of bad) expect(p.message).toMatch(/UTF-8|line break/);
    expect(bad.some((p: any) => p.message.includes("\\n"))).toBe(true); // escaped in the report
    // the good files are indexed, none of the bad ones
    expect(live(w).map((f) => f.path).sort()).toEqual(["a.txt", "dir/b.txt", "dir/sub/c.bin"]);
    expect(runsOf(w.db).at(-1).status).toBe("partial");
    // human output lists them too, and exits 4
    const h = await w.hoardAsync("index", "photos");
    expect(h.code).toBe(4);
    expect((h.stdout.match(/^\s+! /gm) ?? []).length).toBe(3);
  }, T);

  test("unreadable files and directories (as root: run hoard as user nobody)", async () => {
    const w = fw();
    w.write("vol/locked.txt", "secret");
    w.write("vol/closed/inner.txt", "inner");
    expect((await w.hoardAsync("index", "photos")).code).toBe(0);
    unlinkSync(w.path("vol/a.txt")); // must NOT be marked missing in an unclean walk
    prepareUnprivileged(w);
    chmodSync(w.path("vol/locked.txt"), 0o000);
    chmodSync(w.path("vol/closed"), 0o000);
    w.write("vol/locked-new.txt", "new but unreadable");
    chmodSync(w.path("vol/locked-new.txt"), 0o000);
    try {
      const r = await hoardUnprivileged(w, "index", "photos", "--json");
      expect(r.code).toBe(4);
      expect(r.json.status).toBe("partial");
      const unread = r.json.problems.filter((p: any) => p.kind === "unreadable").map((p: any) => p.path).sort();
      expect(unread).toEqual(["closed", "locked-new.txt", "locked.txt"]);
      expect(r.json.counts.errors).toBe(3);
      expect(r.json.counts.missing).toBe(0);
      expect(liveRow(w.db, "a.txt").status).toBe("present");
      expect(liveRow(w.db, "locked.txt").status).toBe("present"); // the earlier record stands
      expect(liveRow(w.db, "closed/inner.txt").status).toBe("present");
      expect(liveRow(w.db, "locked-new.txt")).toBeNull();
    } finally {
      chmodSync(w.path("vol/closed"), 0o755);
    }
  }, T);

  test("symlinks, FIFOs and sockets are reported and counted as skipped, not indexed", async () => {
    const w = fw();
    symlinkSync(w.path("vol/a.txt"), w.path("vol/link-to-file"));
    symlinkSync(w.path("vol/dir"), w.path("vol/link-to-dir"));
    symlinkSync("/nonexistent/target", w.path("vol/dangling"));
    expect(spawnSync("mkfifo", [w.path("vol/dir/pipe")]).status).toBe(0);
    const sock = w.path("vol/dir/sock");
    const server: Server = createServer();
    await new Promise<void>((res) => server.listen(sock, res));
    
    expect(statSync(sock).isSocket()).toBe(true);
    let r;
    try {
      r = await w.hoardAsync("index", "photos", "--json");
    } finally {
      await new Promise<void>((res) => server.close(() => res()));
    }
    expect(r.code).toBe(0); // skips are decisions, not errors
    const byKind = (k: string) => r.json.problems.filter((p: any) => p.kind === k).map((p: any) => p.path).sort();
    expect(byKind("symlink")).toEqual(["dangling", "link-to-dir", "link-to-file"]);
    expect(byKind("special")).toEqual(["dir/pipe", "dir/sock"]);
    expect(r.json.counts).toMatchObject({ skipped: 5, errors: 0, new: 3, files: 3 });
    expect(live(w).map((f) => f.path).sort()).toEqual(["a.txt", "dir/b.txt", "dir/sub/c.bin"]);
  }, T);

  test("a file that changes while it is hashed is reported and not recorded", async () => {
    const w = fw();
    const big = w.path("vol/growing.bin");
    writeFileSync(big, randomBytes(48 * 1024 * 1024));
    // a separate process appends to it continuously while the index runs
    const writer = spawn(process.execPath, ["-e", `const fs=require("node:fs");const fd=fs.openSync(${JSON.stringify(big)},"a");const b=Buffer.alloc(4096,7);const s=new Int32Array(new SharedArrayBuffer(4));for(;;){fs.writeSync(fd,b);Atomics.wait(s,0,0,1);}`], { stdio: "ignore" });
    const size0 = statSync(big).size;
    while (statSync(big).size === size0) await Bun.sleep(5);
    const r = await w.hoardAsync("index", "photos", "--json");
    process.kill(writer.pid!, "SIGKILL");
    await new Promise((res) => writer.once("exit", res));
    expect(r.code).toBe(4);
    expect(r.json.problems).toContainEqual(expect.objectContaining({ path: "growing.bin", kind: "changed_while_hashing" }));
    expect(r.json.counts.errors).toBe(1);
    expect(liveRow(w.db, "growing.bin")).toBeNull();
    expect(live(w).length).toBe(3);
    // once it is quiet it is indexed normally
    const again = await w.hoardAsync("index", "photos", "--json");
    expect(again.code).toBe(0);
    expect(again.json.counts.new).toBe(1);
    expect(liveRow(w.db, "growing.bin").size).toBe(BigInt(statSync(big).size));
  }, T);

  test("reserved names at the volume root (.hoard-volume, .hoard/) are skipped without a report", async () => {
    const w = fw();
    w.write("vol/.hoard/restore-history/run-1/a.txt", "old a");
    w.write("vol/.hoard/state", "x");
    const r = await idx(w);
    expect(r.code).toBe(0);
    expect(r.json.problems).toEqual([]);
    expect(r.json.counts).toMatchObject({ files: 3, skipped: 0 });
    expect(live(w).map((f) => f.path).sort()).toEqual(["a.txt", "dir/b.txt", "dir/sub/c.bin"]);
  }, T);
});
