// Test harness for the restic destination through the CLI: a hoard world whose destination `r` is a
// real restic repository (Debian's restic), the password only in the environment, plus a restic runner.

import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { world, type Result, type World } from "../helpers.ts";

/** Distinctive, so any leak is found by a plain substring search. */
export const PW = `hoard-restic-pw-${Math.random().toString(36).slice(2)}-Rq3`;

export interface ResticWorld extends World {
  vol: string;
  repo: string;
  results: Result[];
  run(...args: string[]): Promise<Result>;
  writeConfig(o?: { password?: string; repository?: string }): void;
  /** Run restic on the repository directly (tests only: forget, prune, re-init). */
  restic(args: string[], o?: { password?: string }): { code: number | null; stdout: string; stderr: string };
}

export async function resticWorld(o: { files?: Record<string, string | Uint8Array>; init?: boolean } = {}): Promise<ResticWorld> {
  const w = world({ env: { HOARD_TEST_RESTIC_PW: PW } }) as ResticWorld;
  w.vol = w.path("vol");
  w.repo = w.path("repo");
  w.results = [];
  w.run = async (...args) => {
    const r = await w.hoardAsync(...args);
    w.results.push(r);
    return r;
  };
  w.writeConfig = (c = {}) =>
    w.setConfig(
      `node = "testnode"\n\n[volumes.photos]\npath = ${JSON.stringify(w.vol)}\nsync_to = ["r"]\noffload_requires = ["r"]\n\n` +
        `[destinations.r]\ntype = "restic"\nrepository = ${JSON.stringify(c.repository ?? w.repo)}\n` +
        `password = ${c.password !== undefined ? JSON.stringify(c.password) : `{ env = "HOARD_TEST_RESTIC_PW" }`}\n`,
    );
  w.restic = (args, ro = {}) => {
    const r = spawnSync("restic", ["-r", w.repo, ...args], { env: { ...process.env, RESTIC_PASSWORD: ro.password ?? PW, RESTIC_CACHE_DIR: join(w.dir, "restic-cache") }, encoding: "utf8" });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  for (const [rel, c] of Object.entries(o.files ?? { "a.txt": "alpha\n", "dir/b.txt": "bravo\n", "dir/sub/c.bin": "charlie\n" })) w.write(`vol/${rel}`, c);
  w.writeConfig();
  must(await w.run("volume", "add", "photos", w.vol), "volume add");
  must(await w.run("index", "photos"), "index");
  if (o.init !== false) must(await w.run("dest", "init", "r"), "dest init");
  return w;
}

export function must(r: Result, what: string): Result {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  return r;
}

export const syncResult = (r: Result) => r.json?.results?.[0];
