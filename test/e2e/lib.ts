// Shared helpers of the end-to-end tests: a synced world, read-only DB queries (bun:sqlite),
// and small file manipulations (flip a byte keeping size and mtime, stat snapshots).

import { Database } from "bun:sqlite";
import { expect } from "bun:test";
import { existsSync, lstatSync, readFileSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { world, type Result, type World } from "../helpers.ts";

/** Assert an exit code, showing the output when it differs. */
export function code(r: Result, expected: number): Result {
  if (r.code !== expected) throw new Error(`expected exit ${expected}, got ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r;
}

/** Rows from the world's DB, opened read-only (integers as bigint). */
export function rows<T = Record<string, any>>(w: World, sql: string, ...params: (string | number | bigint | null)[]): T[] {
  const d = new Database(w.db, { readonly: true, safeIntegers: true });
  try {
    return d.query(sql).all(...(params as any[])) as T[];
  } finally {
    d.close();
  }
}
export const row = <T = Record<string, any>>(w: World, sql: string, ...params: (string | number | bigint | null)[]): T | undefined => rows<T>(w, sql, ...params)[0];

/** path → status of the live (non-superseded) file rows of volume photos. */
export function liveStatus(w: World): Record<string, string> {
  return Object.fromEntries(rows<{ path: string; status: string }>(w, "SELECT path, status FROM files WHERE volume = 'photos' AND status <> 'superseded' ORDER BY path").map((r) => [r.path, r.status]));
}
export function evidence(w: World, dest = "nas") {
  return row<{ origin_run: bigint; method: string; verified_at: bigint | null; confirmed_run: bigint | null; updated_at: bigint; epoch: bigint }>(w, "SELECT * FROM evidence WHERE volume = 'photos' AND destination = ?", dest);
}
export const historyCount = (w: World) => Number(row<{ n: bigint }>(w, "SELECT count(*) AS n FROM evidence_history")!.n);

/** Every world made here; remove them all with cleanupWorlds() (in afterAll: tests run concurrently). */
const made: World[] = [];
export function cleanupWorlds(): void {
  for (const w of made.splice(0)) w.cleanup();
}

/**
 * The same world as helpers.ts fsWorld() (volume `photos` at vol/ with a.txt, dir/b.txt, dir/sub/c.bin;
 * fs destination `nas` at nas/; node testnode), set up with async child processes so that
 * concurrent tests overlap their hoard processes instead of blocking on each other.
 */
export async function asyncFsWorld(o: { files?: Record<string, string>; destInit?: boolean; extraDests?: string[]; require?: string[] } = {}): Promise<World> {
  const w = world();
  made.push(w);
  mkdirSync(w.path("vol"), { recursive: true });
  for (const [rel, c] of Object.entries(o.files ?? { "a.txt": "alpha\n", "dir/b.txt": "bravo\n", "dir/sub/c.bin": "charlie\n" })) w.write(`vol/${rel}`, c);
  const dests = ["nas", ...(o.extraDests ?? [])];
  w.setConfig(
    `node = "testnode"\n\n[volumes.photos]\npath = ${JSON.stringify(w.path("vol"))}\nsync_to = ${JSON.stringify(dests)}\noffload_requires = ${JSON.stringify(o.require ?? ["nas"])}\n\n` +
      dests.map((d) => `[destinations.${d}]\ntype = "fs"\npath = ${JSON.stringify(w.path(d))}\n`).join("\n"),
  );
  code(await w.hoardAsync("volume", "add", "photos", w.path("vol")), 0);
  if (o.destInit !== false) for (const d of dests) code(await w.hoardAsync("dest", "init", d), 0);
  return w;
}

/** A world (photos → nas) indexed and synced. */
export async function syncedWorld(o: Parameters<typeof asyncFsWorld>[0] = {}): Promise<World> {
  const w = await asyncFsWorld(o);
  code(await w.hoardAsync("index", "photos"), 0);
  code(await w.hoardAsync("sync", "photos", "--to", "nas"), 0);
  return w;
}

export const exists = (w: World, rel: string) => existsSync(w.path(rel));
export const read = (w: World, rel: string) => readFileSync(w.path(rel), "utf8");

/** Set a file's mtime to exactly `ns` (nanoseconds; utimes with a JS number would round it). */
export function setMtimeNs(path: string, ns: bigint): void {
  const r = spawnSync("touch", ["-m", "-d", `@${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, "0")}`, path]);
  if (r.status !== 0) throw new Error(`touch failed: ${r.stderr}`);
  expect(lstatSync(path, { bigint: true }).mtimeNs).toBe(ns);
}

/** Flip one bit of a file in place, keeping its size and its exact mtime (a silent corruption). */
export function flipBit(path: string, offset = 0): void {
  const mtime = lstatSync(path, { bigint: true }).mtimeNs;
  const b = readFileSync(path);
  b[offset] = b[offset]! ^ 0x01;
  writeFileSync(path, b);
  setMtimeNs(path, mtime);
}

/** Rewrite a file's content keeping its exact mtime (a change a size+mtime check cannot see). */
export function rewriteKeepMtime(path: string, content: string): void {
  const mtime = lstatSync(path, { bigint: true }).mtimeNs;
  writeFileSync(path, content);
  setMtimeNs(path, mtime);
}

/** Count the files hoard would see under a directory (for "nothing deleted" checks). */
export function snapshot(w: World, rels: string[]): Record<string, string | null> {
  return Object.fromEntries(rels.map((r) => [r, existsSync(w.path(r)) ? readFileSync(w.path(r), "utf8") : null]));
}
