// Restore end to end (DESIGN invariant 7): never clobbers a different file (kept under
// .hoard/restore-history/run-N-<unique>/), checks BLAKE3 before anything lands, --to DIR changes no rows.

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, lstatSync, readdirSync } from "node:fs";
import { code, flipBit, liveStatus, read, row, rows, syncedWorld, cleanupWorlds } from "./lib.ts";

// every test drives several real hoard processes; the machine may be busy
setDefaultTimeout(180_000);

afterAll(cleanupWorlds);

test.concurrent("restore onto a path that now holds different bytes: the existing file is kept under restore history", async () => {
  const w = await syncedWorld();
  code(await w.hoardAsync("offload", "photos", "a.txt", "dir"), 0);
  w.write("vol/a.txt", "a different file that appeared here\n");
  const r = code(await w.hoardAsync("restore", "photos", "a.txt", "--json"), 0);
  expect(r.json.counts).toMatchObject({ selected: 1, restored: 1, kept_existing: 1, failed: 0 });
  expect(r.json.restored).toEqual([{ path: "a.txt", from: "nas", size: 6 }]);
  expect(read(w, "vol/a.txt")).toBe("alpha\n");
  expect(r.json.kept).toEqual([{ path: "a.txt", kept_at: expect.stringMatching(new RegExp(`^\\.hoard/restore-history/run-${r.json.run_id}-[^/]+/a\\.txt$`)) }]);
  expect(read(w, `vol/${r.json.kept[0].kept_at}`)).toBe("a different file that appeared here\n");
  // the indexed mtime is back, the row is present again, the other offloaded files are untouched
  const f = row(w, "SELECT mtime_ns, status_changed_run FROM files WHERE path = 'a.txt' AND status = 'present'")!;
  expect(lstatSync(w.path("vol/a.txt"), { bigint: true }).mtimeNs / 1000n).toBe(f.mtime_ns / 1000n);
  expect(f.status_changed_run).toBe(BigInt(r.json.run_id));
  expect(liveStatus(w)).toEqual({ "a.txt": "present", "dir/b.txt": "offloaded", "dir/sub/c.bin": "offloaded" });
  expect(readdirSync(w.path("vol")).filter((n) => n.startsWith(".hoard-restore-"))).toEqual([]);
  // the kept file is not indexed (reserved .hoard/), and the restored one is unchanged
  const idx = code(await w.hoardAsync("index", "photos", "--json"), 0);
  expect(idx.json.counts).toMatchObject({ unchanged: 1, new: 0, changed: 0 });
  // restoring onto identical bytes keeps nothing
  const same = code(await w.hoardAsync("restore", "photos", "dir/b.txt", "--json"), 0);
  expect(same.json.counts.kept_existing).toBe(0);
});

test.concurrent("restore --to DIR writes the files there and changes no rows", async () => {
  const w = await syncedWorld();
  code(await w.hoardAsync("offload", "photos", "a.txt", "dir/sub"), 0);
  const files = rows(w, "SELECT * FROM files ORDER BY id");
  const ev = rows(w, "SELECT * FROM evidence");
  const r = code(await w.hoardAsync("restore", "photos", "--to", w.path("scratch"), "--json"), 0);
  expect(r.json.target).toBe(w.path("scratch"));
  expect(r.json.counts.restored).toBe(3);
  expect(read(w, "scratch/a.txt")).toBe("alpha\n");
  expect(read(w, "scratch/dir/sub/c.bin")).toBe("charlie\n");
  expect(read(w, "scratch/dir/b.txt")).toBe("bravo\n");
  expect(existsSync(w.path("vol/a.txt"))).toBe(false);
  expect(existsSync(w.path("vol/dir/sub/c.bin"))).toBe(false);
  expect(rows(w, "SELECT * FROM files ORDER BY id")).toEqual(files);
  expect(rows(w, "SELECT * FROM evidence")).toEqual(ev);
});

test.concurrent("restore checks BLAKE3 before anything lands: corrupted bytes at the destination are not restored", async () => {
  const w = await syncedWorld();
  code(await w.hoardAsync("offload", "photos", "a.txt"), 0);
  flipBit(w.path("nas/photos/a.txt"));
  const r = code(await w.hoardAsync("restore", "photos", "--json"), 1);
  expect(r.json.status).toBe("failed");
  expect(r.json.failures).toEqual([{ path: "a.txt", reason: expect.stringContaining("do not match the index") }]);
  expect(existsSync(w.path("vol/a.txt"))).toBe(false);
  expect(readdirSync(w.path("vol")).filter((n) => n.startsWith(".hoard-restore-"))).toEqual([]);
  expect(liveStatus(w)["a.txt"]).toBe("offloaded");
});
