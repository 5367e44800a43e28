// Shared helpers for the foundation tests: direct DB access (bun:sqlite, exact bigints), table
// dumps for before/after comparisons, and running hoard as an unprivileged user when we are root.

import { Database } from "bun:sqlite";
import { spawn } from "node:child_process";
import { chmodSync, readdirSync, lstatSync } from "node:fs";
import { join } from "node:path";
import { mkdirSync } from "node:fs";
import { hoardCommand, world, type Result, type World } from "../helpers.ts";
import { openDb } from "../../src/kernel/db.ts";
import { recordVolume, writeMarker } from "../../src/kernel/volumes.ts";

/** Open a DB file directly, integers as bigint. Close it before the CLI needs the write lock for long. */
export function sqlite(path: string): Database {
  const db = new Database(path, { strict: true, safeIntegers: true });
  db.exec("PRAGMA busy_timeout = 10000");
  return db;
}

export function withDb<T>(path: string, fn: (db: Database) => T): T {
  const db = sqlite(path);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const big = (_: string, v: unknown) => (typeof v === "bigint" ? `${v}n` : v);
export const j = (x: unknown) => JSON.stringify(x, big);

/** Every row of every table, as one comparable string. */
export function dumpDb(path: string): string {
  return withDb(path, (db) => {
    const tables = db.query<{ name: string; sql: string }, []>("SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name").all();
    // a WITHOUT ROWID table has no rowid: it is read in its primary key's order
    const order = (t: { sql: string }) => (/WITHOUT ROWID\s*$/i.test(t.sql) ? "" : " ORDER BY rowid");
    return j(Object.fromEntries(tables.map((t) => [t.name, db.query(`SELECT * FROM "${t.name}"${order(t)}`).all()])));
  });
}

export function runsOf(path: string): any[] {
  return withDb(path, (db) => db.query("SELECT * FROM runs ORDER BY id").all() as any[]);
}
export function filesOf(path: string, volume = "photos"): any[] {
  return withDb(path, (db) => db.query("SELECT f.*, c.blake3 FROM files f JOIN content c ON c.id = f.content_id WHERE volume = ? ORDER BY f.id").all(volume) as any[]);
}
export function liveRow(path: string, rel: string, volume = "photos"): any {
  return withDb(path, (db) => db.query("SELECT * FROM files WHERE volume = ? AND path = ? AND status <> 'superseded'").get(volume, rel));
}

export const isRoot = () => process.getuid?.() === 0;
const NOBODY = 65534;

function chmodTree(p: string): void {
  const st = lstatSync(p);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    chmodSync(p, 0o777);
    for (const n of readdirSync(p)) chmodTree(join(p, n));
  } else if (st.isFile()) chmodSync(p, 0o666);
}

/**
 * Run hoard so that permission bits bind: as root (where chmod 000 blocks nothing) the child runs
 * as user nobody, after the world's files are opened up to it (call before chmod-ing the
 * entries that must stay unreadable).
 */
export function prepareUnprivileged(w: World): void {
  if (isRoot()) chmodTree(w.dir);
}
export function hoardUnprivileged(w: World, ...args: string[]): Promise<Result> {
  const [cmd, ...rest] = [...hoardCommand(), "--config", w.config, "--db", w.db, ...args];
  return new Promise((resolve) => {
    const c = spawn(cmd!, rest, { env: { ...w.env, HOME: w.dir }, stdio: ["ignore", "pipe", "pipe"], ...(isRoot() ? { uid: NOBODY, gid: NOBODY } : {}) });
    let stdout = "";
    let stderr = "";
    c.stdout!.on("data", (d) => (stdout += d));
    c.stderr!.on("data", (d) => (stderr += d));
    c.on("close", (code) => {
      let json: any;
      try {
        json = JSON.parse(stdout);
      } catch {}
      resolve({ code: code ?? -1, stdout, stderr, json });
    });
  });
}

/**
 * Like helpers' fsWorld (volume `photos` at vol/, fs destination `nas`, node "testnode") but the
 * volume is added in-process through the kernel (marker + DB record) instead of spawning
 * `hoard volume add` (tested on its own in volumes.test.ts): one child process less per test.
 * The destination is not initialised.
 */
export function quickWorld(files: Record<string, string | Uint8Array> = { "a.txt": "alpha\n", "dir/b.txt": "bravo\n", "dir/sub/c.bin": "charlie\n" }, env: Record<string, string> = {}): World {
  const w = world({ env });
  mkdirSync(w.path("vol"), { recursive: true });
  for (const [rel, c] of Object.entries(files)) w.write(`vol/${rel}`, c);
  w.setConfig(
    `node = "testnode"\n\n[volumes.photos]\npath = ${JSON.stringify(w.path("vol"))}\nsync_to = ["nas"]\noffload_requires = ["nas"]\n\n` +
      `[destinations.nas]\ntype = "fs"\npath = ${JSON.stringify(w.path("nas"))}\n`,
  );
  const db = openDb(w.db);
  try {
    recordVolume(db, "photos", w.path("vol"));
  } finally {
    db.close();
  }
  writeMarker(w.path("vol"), "photos");
  return w;
}

/** Worlds to remove after the file's tests (works with concurrent tests, unlike afterEach). */
export class Worlds {
  private all: World[] = [];
  track<T extends World>(w: T): T {
    this.all.push(w);
    return w;
  }
  cleanup(): void {
    for (const w of this.all.splice(0)) w.cleanup();
  }
}
