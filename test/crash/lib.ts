// Shared helpers of the crash-injection tests: run hoard and report how it ended (exit code or
// signal), read a file in the volume or at a destination, list hoard's temp names, the live rows.

import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { hoardCommand, type World } from "../helpers.ts";
import { rows } from "../e2e/lib.ts";

/** hoard's own temporary names (never indexed, removed by the next index). */
export const TEMP = /^\.hoard-(restore|offload|tmp)-/;

export interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run hoard with extra environment, reporting how it ended (a SIGKILL shows as signal, code null). */
export function runRaw(w: World, env: Record<string, string>, ...args: string[]): Promise<Ended> {
  const [cmd, ...rest] = [...hoardCommand(), "--config", w.config, "--db", w.db, ...args];
  return new Promise((resolve) => {
    const c = spawn(cmd!, rest, { env: { ...w.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (d) => (stdout += d));
    c.stderr.on("data", (d) => (stderr += d));
    c.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export const readOr = (p: string) => (existsSync(p) ? readFileSync(p, "utf8") : null);
/** A file of volume `photos` (at vol/), or null. */
export const local = (w: World, rel: string) => readOr(w.path(`vol/${rel}`));
/** The copy of a file of volume `photos` at fs destination `dest` (default nas), or null. */
export const remoteAt = (w: World, dest: string, rel: string) => readOr(w.path(`${dest}/photos/${rel}`));

/** Every entry under `dir` (relative paths), hoard's reserved directory included. */
export function tree(dir: string, rel = ""): { rel: string; file: boolean }[] {
  const out: { rel: string; file: boolean }[] = [];
  for (const d of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    out.push({ rel: r, file: d.isFile() });
    if (d.isDirectory()) out.push(...tree(dir, r));
  }
  return out;
}
/** hoard's temp files under dir (none when dir does not exist). */
export const tempsIn = (dir: string) => (existsSync(dir) ? tree(dir).filter((e) => TEMP.test(e.rel.split("/").pop()!)) : []);

export type Live = { path: string; status: string; size: bigint; blake3: string };
/** The live rows of volume `photos`, by path. */
export const live = (w: World) => rows<Live>(w, "SELECT f.path, f.status, f.size, c.blake3 FROM files f JOIN content c ON c.id = f.content_id WHERE f.volume = 'photos' AND f.status <> 'superseded' ORDER BY f.path");
