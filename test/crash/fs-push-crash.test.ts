// Pushes to an fs destination killed (SIGKILL) at random points mid-push, over and over, with the volume
// changing in between: after every kill each object the database holds evidence for is whole there.

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { hoardCommand, type World } from "../helpers.ts";
import { hashBytes } from "../../src/kernel/hash.ts";
import { asyncFsWorld, cleanupWorlds, code, rows } from "../e2e/lib.ts";
import { tempsIn } from "./lib.ts";

setDefaultTimeout(600_000);
afterAll(cleanupWorlds);

const body = (i: number, round: number) => `file ${i} of round ${round}\n`.repeat(1 + ((i * 37 + round * 11) % 300));

/** Run `hoard sync photos` and SIGKILL it at a random moment after its first temp file appears at the destination. */
function syncKilled(w: World, env: Record<string, string>): Promise<{ code: number | null; signal: string | null }> {
  const [cmd, ...rest] = [...hoardCommand(), "--config", w.config, "--db", w.db, "sync", "photos"];
  return new Promise((resolve) => {
    const c = spawn(cmd!, rest, { env: { ...w.env, ...env }, stdio: "ignore" });
    let armed = false;
    const poll = setInterval(() => {
      if (armed || tempsIn(w.path("nas")).length === 0) return;
      armed = true;
      setTimeout(() => c.kill("SIGKILL"), Math.floor(Math.random() * 400));
    }, 5);
    c.on("close", (code, signal) => {
      clearInterval(poll);
      resolve({ code, signal });
    });
  });
}

/** Every object the database holds evidence for at nas (a verified check of a live row's content) is there, whole. */
function evidenceIsWhole(w: World): number {
  const held = rows<{ path: string; blake3: string }>(
    w,
    "SELECT o.path, c.blake3 FROM dest_objects o JOIN files f ON f.volume = o.volume AND f.path = o.path AND f.content_id = o.content_id AND f.status IN ('present', 'offloaded') JOIN content c ON c.id = o.content_id WHERE o.destination = 'nas' AND o.volume = 'photos' AND o.ok = 1",
  );
  for (const { path, blake3 } of held) {
    const p = w.path(`nas/photos/${path}`);
    expect({ path, there: existsSync(p) }).toEqual({ path, there: true });
    expect({ path, whole: hashBytes(readFileSync(p)) }).toEqual({ path, whole: blake3 });
  }
  return held.length;
}

test("a push killed at random points: every object with evidence is whole at the destination; a final sync completes", async () => {
  const files: Record<string, string> = {};
  for (let i = 0; i < 240; i++) files[`d${i % 6}/s${i % 4}/f${i}.txt`] = body(i, 0);
  const w = await asyncFsWorld({ files });
  code(await w.hoardAsync("index", "photos"), 0);
  code(await w.hoardAsync("sync", "photos"), 0);
  expect(evidenceIsWhole(w)).toBe(240);
  let killed = 0;
  for (let round = 1; round <= 6; round++) {
    // small batches, so a kill lands between batches as well as inside one; half the rounds fsync each file
    const env = { HOARD_FS_BATCH: "8", ...(round % 2 ? { HOARD_TEST_FS_SYNC: "fsync" } : {}) };
    const end = await syncKilled(w, env);
    if (end.signal === "SIGKILL") killed++;
    else expect(end.code).toBe(0);
    expect(evidenceIsWhole(w)).toBeGreaterThan(0);
    // the volume moves on: some files change, some are new; the next push has new copies to make
    for (let i = round * 7; i < round * 7 + 20; i++) w.write(`vol/d${i % 6}/s${i % 4}/f${i % 260}.txt`, body(i, round));
    code(await w.hoardAsync("index", "photos"), 0);
  }
  expect(killed).toBeGreaterThan(0);
  code(await w.hoardAsync("sync", "photos"), 0);
  // after a complete sync: every file is there, whole, with evidence; no temp file is left
  const live = rows<{ path: string }>(w, "SELECT path FROM files WHERE volume = 'photos' AND status = 'present'");
  expect(evidenceIsWhole(w)).toBe(live.length);
  for (const { path } of live) expect({ path, same: readFileSync(w.path(`nas/photos/${path}`), "utf8") === readFileSync(w.path(`vol/${path}`), "utf8") }).toEqual({ path, same: true });
  expect(tempsIn(w.path("nas")).filter((t) => !t.rel.startsWith("photos/.hoard/"))).toEqual([]);
  expect(readdirSync(w.path("nas/photos")).length).toBeGreaterThan(0);
});
