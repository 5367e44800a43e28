// Test harness for the kopia plugin: a hoard world whose destination `k` is a kopia repository,
// driven through the kopia test double (or a real kopia when KOPIA_BIN is set), plus log/DB readers.

import { Database } from "bun:sqlite";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ROOT, world, type Result, type World } from "../helpers.ts";

export const DOUBLE_DIR = join(ROOT, "test", "fixtures", "kopia-double");
/** A real kopia binary to test against (the plugin's `binary` default), else the test double. */
export const REAL = !!process.env.KOPIA_BIN;
/** Distinctive, so any leak is found by a plain substring search. */
export const PW = `hoard-pw-${Math.random().toString(36).slice(2)}-Zq9`;

export interface KopiaWorld extends World {
  vol: string;
  repo: string;
  log: string;
  stateDir: string;
  /** Every hoard result so far (stdout+stderr are searched for the password). */
  results: Result[];
  run(...args: string[]): Promise<Result>;
  /** Parsed KOPIA_DOUBLE_LOG lines: argv of each kopia invocation. */
  kopiaLog(): { argv: string[]; passwordEnv: boolean }[];
  sql<T = any>(query: string, ...params: any[]): T[];
  writeConfig(o?: { percent?: number; password?: string; binary?: string; extra?: string }): void;
}

export async function kopiaWorld(o: { files?: Record<string, string | Uint8Array>; percent?: number; init?: boolean; index?: boolean } = {}): Promise<KopiaWorld> {
  const base = world({
    env: {
      HOARD_TEST_KOPIA_PW: PW,
      PATH: `${DOUBLE_DIR}:${join(ROOT, "node_modules", ".bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`,
    },
  });
  const w = base as KopiaWorld;
  w.vol = w.path("vol");
  w.repo = w.path("repo");
  w.log = w.path("kopia-log.jsonl");
  w.stateDir = w.path("data/destinations/k");
  w.env.KOPIA_DOUBLE_LOG = w.log;
  w.results = [];
  w.run = async (...args) => {
    const r = await w.hoardAsync(...args);
    w.results.push(r);
    return r;
  };
  w.kopiaLog = () =>
    existsSync(w.log)
      ? readFileSync(w.log, "utf8")
          .split("\n")
          .filter(Boolean)
          .map((l) => JSON.parse(l))
      : [];
  w.sql = (query, ...params) => {
    const db = new Database(w.db, { readonly: true });
    try {
      return db.query(query).all(...params) as any[];
    } finally {
      db.close();
    }
  };
  w.writeConfig = (c = {}) =>
    w.setConfig(
      `node = "testnode"\n\n[volumes.photos]\npath = ${JSON.stringify(w.vol)}\nsync_to = ["k"]\noffload_requires = ["k"]\n\n` +
        `[destinations.k]\ntype = "kopia"\nrepository = ${JSON.stringify(w.repo)}\n` +
        `password = ${c.password !== undefined ? JSON.stringify(c.password) : `{ env = "HOARD_TEST_KOPIA_PW" }`}\n` +
        `verify_files_percent = ${c.percent ?? o.percent ?? 100}\n` +
        (c.binary ? `binary = ${JSON.stringify(c.binary)}\n` : "") +
        (c.extra ?? ""),
    );
  for (const [rel, c] of Object.entries(o.files ?? { "a.txt": "alpha\n", "dir/b.txt": "bravo\n", "dir/sub/c.bin": "charlie\n" })) w.write(`vol/${rel}`, c);
  w.writeConfig();
  must(await w.run("volume", "add", "photos", w.vol), "volume add");
  if (o.index !== false) must(await w.run("index", "photos"), "index");
  if (o.init !== false) must(await w.run("dest", "init", "k"), "dest init");
  return w;
}

export function must(r: Result, what: string): Result {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.stderr}${r.stdout}`);
  return r;
}

/** Every file under dir (recursively), as [path, bytes]. */
export function filesUnder(dir: string): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  if (!existsSync(dir)) return out;
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push([p, readFileSync(p)]);
  }
  return out;
}

/** argv lists of `repository create` invocations in the double's log. */
export const creates = (w: KopiaWorld) => w.kopiaLog().filter((l) => l.argv[0] === "repository" && l.argv[1] === "create");

/** The sync result of a single (volume, destination) pair from `hoard sync --json`. */
export const syncResult = (r: Result) => r.json?.results?.[0];
