// Offload under attack, end to end through the CLI with real files (DESIGN invariants 5 and 6):
// edits racing the index and the sync, drift after a sync, a symlinked parent, a crash mid-offload.

import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readFileSync, renameSync, symlinkSync, existsSync } from "node:fs";
import { code, evidence, liveStatus, read, rewriteKeepMtime, row, rows, syncedWorld, cleanupWorlds } from "./lib.ts";

// every test drives several real hoard processes; the machine may be busy
setDefaultTimeout(180_000);

afterAll(cleanupWorlds);

describe("offload refuses what was never proven", () => {
  test.concurrent("edited A→B between index and sync (B is pushed), edited back to A and re-indexed: offload refuses A", async () => {
    const w = await syncedWorld();
    const A = "version A of x\n";
    const B = "version B of x, which is longer\n";
    w.write("vol/x.txt", A);
    code(await w.hoardAsync("index", "photos"), 0);
    w.write("vol/x.txt", B); // edited after the index, before the sync
    const s = code(await w.hoardAsync("sync", "photos", "--json"), 4);
    const res = s.json.results[0];
    expect(res.failures.map((f: any) => f.path)).toEqual(["x.txt"]);
    expect(res.failures[0].reason).toContain("the local file probably changed since it was indexed");
    // neither went to the destination: the copy of B was checked against the index (A) before it was placed
    expect(existsSync(w.path("nas/photos/x.txt"))).toBe(false);

    w.write("vol/x.txt", A); // edited back to A
    const idx = code(await w.hoardAsync("index", "photos", "--json"), 0);
    expect(idx.json.counts.unchanged).toBe(4); // same BLAKE3 as the row: nothing new to prove
    // a failed last check at a required destination is a standing problem there: kept, exit 4
    const off = code(await w.hoardAsync("offload", "photos", "x.txt", "--json"), 4);
    expect(off.json.counts).toMatchObject({ selected: 1, offloaded: 0, refused: 1 });
    expect(off.json.refusals.map((r: any) => `${r.destination}:${r.code}`)).toEqual(["nas:last_check_failed"]);
    expect(read(w, "vol/x.txt")).toBe(A);
    expect(liveStatus(w)["x.txt"]).toBe("present");

    // a sync that really pushes A lifts the refusal
    const s2 = code(await w.hoardAsync("sync", "photos", "--json"), 0);
    expect(s2.json.results[0].counts.transferred).toBe(1);
    expect(code(await w.hoardAsync("offload", "photos", "x.txt", "--json"), 0).json.offloaded).toEqual(["x.txt"]);
    expect(readFileSync(w.path("nas/photos/x.txt"), "utf8")).toBe(A);
  });

  test.concurrent("A synced, B indexed and synced, edited back to A (a revert): A was not re-verified at the path, offload refuses", async () => {
    const w = await syncedWorld({ files: { "x.txt": "version A\n", "y.txt": "steady\n" } });
    w.write("vol/x.txt", "version B, different\n");
    code(await w.hoardAsync("index", "photos"), 0);
    code(await w.hoardAsync("sync", "photos"), 0); // the destination now holds B at x.txt (A only in its history)
    w.write("vol/x.txt", "version A\n");
    const idx = code(await w.hoardAsync("index", "photos", "--json"), 0);
    expect(idx.json.counts.reverted).toBe(1);
    // A's content was verified once (first sync) and the evidence covers its origin run, yet the
    // row reappeared after the last verifying run: it must not be deleted
    const off = code(await w.hoardAsync("offload", "photos", ".", "--json"), 0);
    expect(off.json.offloaded).toEqual(["y.txt"]);
    expect(off.json.refusals.map((r: any) => `${r.destination}:${r.code}:${r.examples.join(",")}`)).toEqual(["nas:not_confirmed:x.txt"]);
    expect(off.json.refusals[0].hint).toContain("hoard sync photos --to nas");
    expect(read(w, "vol/x.txt")).toBe("version A\n");
    expect(readFileSync(w.path("nas/photos/x.txt"), "utf8")).toBe("version B, different\n");

    code(await w.hoardAsync("sync", "photos"), 0);
    expect(code(await w.hoardAsync("offload", "photos", "x.txt", "--json"), 0).json.offloaded).toEqual(["x.txt"]);
    expect(readFileSync(w.path("nas/photos/x.txt"), "utf8")).toBe("version A\n");
  });
});

describe("right before each unlink (invariant 6)", () => {
  test.concurrent("files changed after the sync: offload reports drift, exits 4 and deletes nothing", async () => {
    const w = await syncedWorld();
    w.write("vol/a.txt", "alpha, edited after the sync\n"); // size and mtime differ
    rewriteKeepMtime(w.path("vol/dir/b.txt"), "BRAVO\n"); // same size, same mtime: only BLAKE3 sees it
    const off = code(await w.hoardAsync("offload", "photos", "a.txt", "dir/b.txt", "--json"), 4);
    expect(off.json.counts).toMatchObject({ selected: 2, offloadable: 2, offloaded: 0, drift: 2 });
    const byPath = Object.fromEntries(off.json.problems.map((p: any) => [p.path, p]));
    expect(byPath["a.txt"].code).toBe("drift");
    expect(byPath["dir/b.txt"].code).toBe("drift");
    expect(byPath["dir/b.txt"].message).toContain("content differs");
    expect(read(w, "vol/a.txt")).toBe("alpha, edited after the sync\n");
    expect(read(w, "vol/dir/b.txt")).toBe("BRAVO\n");
    expect(liveStatus(w)).toEqual({ "a.txt": "present", "dir/b.txt": "present", "dir/sub/c.bin": "present" });
    expect(row(w, "SELECT status FROM runs WHERE id = ?", BigInt(off.json.run_id))!.status).toBe("partial");
    // human output names the drift
    const human = code(await w.hoardAsync("offload", "photos", "a.txt"), 4);
    expect(human.stdout).toContain("a.txt: drift");
  });

  test.concurrent("a parent directory (or the file) replaced by a symlink to the same inodes just before offload: nothing deleted through it", async () => {
    const w = await syncedWorld();
    mkdirSync(w.path("elsewhere"));
    renameSync(w.path("vol/dir"), w.path("elsewhere/dir")); // same inodes, sizes, mtimes and bytes
    symlinkSync(w.path("elsewhere/dir"), w.path("vol/dir"));
    const off = code(await w.hoardAsync("offload", "photos", "dir", "--json"), 4);
    expect(off.json.counts.offloaded).toBe(0);
    expect(off.json.problems.map((p: any) => `${p.path}:${p.code}`).sort()).toEqual(["dir/b.txt:parent_not_dir", "dir/sub/c.bin:parent_not_dir"]);
    expect(off.json.problems[0].message).toContain("symbolic link");
    expect(read(w, "elsewhere/dir/b.txt")).toBe("bravo\n");
    expect(read(w, "elsewhere/dir/sub/c.bin")).toBe("charlie\n");
    expect(liveStatus(w)["dir/b.txt"]).toBe("present");

    // a symlink deeper down is caught too
    renameSync(w.path("vol/dir"), w.path("vol/dir-link"));
    renameSync(w.path("elsewhere/dir"), w.path("vol/dir"));
    renameSync(w.path("vol/dir/sub"), w.path("elsewhere/sub"));
    symlinkSync(w.path("elsewhere/sub"), w.path("vol/dir/sub"));
    const deep = code(await w.hoardAsync("offload", "photos", "dir/sub/c.bin", "--json"), 4);
    expect(deep.json.problems.map((p: any) => p.code)).toEqual(["parent_not_dir"]);
    expect(read(w, "elsewhere/sub/c.bin")).toBe("charlie\n");

    // and the file itself replaced by a symlink to the very same inode
    renameSync(w.path("vol/a.txt"), w.path("elsewhere/a.txt"));
    symlinkSync(w.path("elsewhere/a.txt"), w.path("vol/a.txt"));
    const file = code(await w.hoardAsync("offload", "photos", "a.txt", "--json"), 4);
    expect(file.json.problems.map((p: any) => p.code)).toEqual(["not_regular"]);
    expect(read(w, "elsewhere/a.txt")).toBe("alpha\n");
    expect(liveStatus(w)).toEqual({ "a.txt": "present", "dir/b.txt": "present", "dir/sub/c.bin": "present" });
  });
});

describe("a crash between unlink and flip", () => {
  test.concurrent("SIGKILL right after the first unlink: the next index reports the file missing, nothing else is lost", async () => {
    const w = await syncedWorld();
    const before = evidence(w)!;
    w.env.HOARD_TEST_CRASH_AFTER_UNLINK = "1";
    const off = await w.hoardAsync("offload", "photos", ".", "--json");
    delete w.env.HOARD_TEST_CRASH_AFTER_UNLINK;
    expect(off.code).toBe(-1); // killed by a signal
    expect(off.stdout).toBe("");
    // the first file (path order) is gone, its row still says present; the others were not touched
    expect(existsSync(w.path("vol/a.txt"))).toBe(false);
    expect(read(w, "vol/dir/b.txt")).toBe("bravo\n");
    expect(read(w, "vol/dir/sub/c.bin")).toBe("charlie\n");
    expect(liveStatus(w)).toEqual({ "a.txt": "present", "dir/b.txt": "present", "dir/sub/c.bin": "present" });
    const crashed = row(w, "SELECT id, status FROM runs WHERE kind = 'offload' ORDER BY id DESC LIMIT 1")!;
    expect(crashed.status).toBe("running");

    const idx = code(await w.hoardAsync("index", "photos", "--json"), 0);
    expect(idx.json.counts).toMatchObject({ missing: 1, unchanged: 2, new: 0, changed: 0 });
    expect(liveStatus(w)).toEqual({ "a.txt": "missing", "dir/b.txt": "present", "dir/sub/c.bin": "present" });
    // the dead run was reaped, not left blocking the volume
    const reaped = row(w, "SELECT status, note FROM runs WHERE id = ?", crashed.id)!;
    expect(reaped.status).toBe("aborted");
    expect(reaped.note).toContain("is gone");
    // the bytes are still at the destination, and the evidence is intact
    expect(readFileSync(w.path("nas/photos/a.txt"), "utf8")).toBe("alpha\n");
    expect(evidence(w)!.origin_run).toBe(before.origin_run);
    expect(rows(w, "SELECT 1 FROM files WHERE status = 'offloaded'")).toHaveLength(0);
    // and offload works again for the rest
    expect(code(await w.hoardAsync("offload", "photos", ".", "--json"), 0).json.offloaded).toEqual(["dir/b.txt", "dir/sub/c.bin"]);
  });
});
