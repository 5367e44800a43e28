// The fs destination through the real CLI (issue 12, items 2, 3, 5): a symlink swapped into the volume after
// the index is never followed by sync; a symlinked DEST/v/.hoard is refused, nothing is written outside; a
// SIGKILLed push leaves its temp file, and the next push removes it.

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { hoardCommand } from "../helpers.ts";
import { asyncFsWorld, cleanupWorlds, code, liveStatus, read, syncedWorld } from "../e2e/lib.ts";

setDefaultTimeout(180_000);
afterAll(cleanupWorlds);

/** The bytes of every regular file below dir (links not followed), concatenated. */
function allBytes(dir: string): string {
  let out = "";
  for (const d of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, d.name);
    if (d.isDirectory()) out += allBytes(p);
    else if (d.isFile()) out += readFileSync(p, "latin1");
  }
  return out;
}

test.concurrent("a.txt swapped for a symlink to a file outside the volume after index: sync never copies the target's bytes and fails that file with a clear reason", async () => {
  const w = await asyncFsWorld();
  code(await w.hoardAsync("index", "photos"), 0);
  mkdirSync(w.path("root-only"), { mode: 0o700 });
  w.write("root-only/shadow", "SECRT\n"); // the same size as a.txt ("alpha\n")
  rmSync(w.path("vol/a.txt"));
  symlinkSync(w.path("root-only/shadow"), w.path("vol/a.txt"));
  const s = code(await w.hoardAsync("sync", "photos", "--json"), 4);
  const res = s.json.results[0];
  expect(res.failures.map((f: any) => f.path)).toEqual(["a.txt"]);
  expect(res.failures[0].reason).toContain("symbolic link");
  expect(res.failures[0].reason).toContain("index again");
  expect(allBytes(w.path("nas"))).not.toContain("SECRT");
  expect(read(w, "nas/photos/dir/b.txt")).toBe("bravo\n"); // the others went
  expect(existsSync(w.path("nas/photos/a.txt"))).toBe(false);
});

test.concurrent("DEST/photos/.hoard is a symlink to an outside directory: a sync that must keep an older copy refuses that file and writes nothing outside; without the link it completes", async () => {
  const w = await syncedWorld();
  mkdirSync(w.path("outside"));
  rmSync(w.path("nas/photos/.hoard"), { recursive: true, force: true }); // (the sync's catalogs)
  symlinkSync(w.path("outside"), w.path("nas/photos/.hoard"));
  w.write("vol/dir/b.txt", "bravo, edited\n");
  code(await w.hoardAsync("index", "photos"), 0);
  const s = code(await w.hoardAsync("sync", "photos", "--json"), 4);
  expect(s.json.results[0].failures.map((f: any) => `${f.path}: ${f.reason.includes("symbolic link")}`)).toEqual(["dir/b.txt: true"]);
  expect(readdirSync(w.path("outside"))).toEqual([]);
  expect(read(w, "nas/photos/dir/b.txt")).toBe("bravo\n"); // the older copy was not moved anywhere
  // nothing proven: offload keeps it
  const off = code(await w.hoardAsync("offload", "photos", "dir/b.txt", "--json"), 4);
  expect(off.json.counts.offloaded).toBe(0);
  expect(read(w, "vol/dir/b.txt")).toBe("bravo, edited\n");

  rmSync(w.path("nas/photos/.hoard"));
  const again = code(await w.hoardAsync("sync", "photos", "--json"), 0);
  expect(again.json.results[0].counts.transferred).toBe(1);
  expect(read(w, "nas/photos/dir/b.txt")).toBe("bravo, edited\n");
  expect(read(w, `nas/photos/.hoard/history/run-${again.json.results[0].run_id}/dir/b.txt`)).toBe("bravo\n");
  expect(liveStatus(w)["dir/b.txt"]).toBe("present");
});

test.concurrent("a push SIGKILLed while copying leaves its .hoard-tmp-<uuid> file; the next push removes it and completes", async () => {
  const w = await asyncFsWorld({ files: {} }); // one file only: the one temp seen is its own
  const big = Buffer.alloc(384 << 20);
  for (let i = 0; i < big.length; i += 4096) big[i] = i & 255;
  w.write("vol/big.bin", big);
  code(await w.hoardAsync("index", "photos"), 0);
  const c = spawn(hoardCommand()[0]!, [...hoardCommand().slice(1), "--config", w.config, "--db", w.db, "sync", "photos"], { env: w.env, stdio: "ignore" });
  const exited = new Promise<number | null>((r) => c.on("close", (code, sig) => r(sig ? -1 : code)));
  let finished = false;
  exited.then(() => (finished = true));
  const dir = w.path("nas/photos");
  const temps = () => (existsSync(dir) ? readdirSync(dir).filter((n) => /^\.hoard-tmp-[0-9a-f-]{36}$/.test(n)) : []);
  while (!finished && temps().length === 0) await Bun.sleep(2);
  expect(finished).toBe(false); // the temp file was seen while the copy ran (a 384 MiB copy, read back and fsynced)
  c.kill("SIGKILL");
  expect(await exited).toBe(-1);
  const left = temps();
  expect(left).toHaveLength(1);
  expect(existsSync(join(dir, "big.bin"))).toBe(false);

  const s = code(await w.hoardAsync("sync", "photos", "--json"), 0);
  expect(s.json.results[0].counts).toMatchObject({ manifest: 1, verified: 1 });
  expect(temps()).toEqual([]);
  expect(readFileSync(join(dir, "big.bin")).equals(big)).toBe(true);
});
