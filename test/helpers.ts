// Test harness: a temporary world (config, DB, volume and destination directories) and a runner
// that executes the real hoard CLI as a child process and returns its exit code and output.

import { mkdtempSync, mkdirSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { spawnSync, spawn } from "node:child_process";
import { afterEach, beforeEach } from "bun:test";
import { openDb, type Db } from "../src/kernel/db.ts";

export const ROOT = join(import.meta.dir, "..");
export const MAIN = join(ROOT, "src/cli/main.ts");
/** The command that runs hoard: HOARD_BIN (e.g. the compiled binary) or bun on the source. */
export function hoardCommand(): string[] {
  if (process.env.HOARD_BIN) return [process.env.HOARD_BIN];
  return [process.execPath, MAIN];
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
  json: any;
}

export interface World {
  dir: string;
  config: string;
  db: string;
  env: Record<string, string>;
  /** Run `hoard ARGS` with --config/--db of this world. */
  hoard(...args: string[]): Result;
  hoardAsync(...args: string[]): Promise<Result>;
  write(rel: string, content: string | Uint8Array): string;
  read(rel: string): string;
  path(rel: string): string;
  setConfig(toml: string): void;
  cleanup(): void;
}

/**
 * A fresh database in a fresh directory for every test of the calling file (registered with
 * beforeEach/afterEach): read `.db` and `.dir` inside a test.
 */
export function tempDbPerTest(prefix: string): { readonly db: Db; readonly dir: string } {
  let dir = "";
  let db: Db | undefined;
  beforeEach(() => {
    dir = tempDir(prefix);
    db = openDb(join(dir, "hoard.db"));
  });
  afterEach(() => {
    db?.close();
    db = undefined;
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    get db() {
      return db!;
    },
    get dir() {
      return dir;
    },
  };
}

/** Whether a process still runs (a zombie, killed but not yet reaped, does not). */
export function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Wait up to `ms` for a process to stop running; whether it did. */
export async function stopped(pid: number, ms = 5000): Promise<boolean> {
  for (let t = 0; t < ms && running(pid); t += 50) await Bun.sleep(50);
  return !running(pid);
}

export function tempDir(prefix = "hoard-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

const parse = (stdout: string) => {
  try {
    return JSON.parse(stdout);
  } catch {
    return undefined;
  }
};

export function world(opts: { env?: Record<string, string> } = {}): World {
  const dir = tempDir();
  const config = join(dir, "config.toml");
  const db = join(dir, "data", "hoard.db");
  const env: Record<string, string> = { ...(process.env as Record<string, string>), NO_COLOR: "1", HOARD_CONFIG: "", HOARD_DB: "", XDG_CONFIG_HOME: join(dir, "xdg-config"), XDG_DATA_HOME: join(dir, "xdg-data"), ...(opts.env ?? {}) };
  const argv = (args: string[]) => [...hoardCommand(), "--config", config, "--db", db, ...args];
  const w: World = {
    dir,
    config,
    db,
    env,
    hoard(...args) {
      const [cmd, ...rest] = argv(args);
      const r = spawnSync(cmd!, rest, { env: w.env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 });
      return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, json: parse(r.stdout) };
    },
    hoardAsync(...args) {
      const [cmd, ...rest] = argv(args);
      return new Promise((resolve) => {
        const c = spawn(cmd!, rest, { env: w.env, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        c.stdout.on("data", (d) => (stdout += d));
        c.stderr.on("data", (d) => (stderr += d));
        c.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr, json: parse(stdout) }));
      });
    },
    write(rel, content) {
      const p = join(dir, rel);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, content);
      return p;
    },
    read: (rel) => readFileSync(join(dir, rel), "utf8"),
    path: (rel) => join(dir, rel),
    setConfig(toml) {
      writeFileSync(config, toml);
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return w;
}

/**
 * A world with volume `photos` (at vol/) and an fs destination `nas` (at nas/), both set up:
 * init-equivalent config, `volume add`, and optionally `dest init`.
 */
export function fsWorld(o: { files?: Record<string, string>; destInit?: boolean; extraDests?: string[]; require?: string[]; env?: Record<string, string> } = {}): World {
  const w = world({ env: o.env });
  mkdirSync(w.path("vol"), { recursive: true });
  for (const [rel, c] of Object.entries(o.files ?? { "a.txt": "alpha\n", "dir/b.txt": "bravo\n", "dir/sub/c.bin": "charlie\n" })) w.write(`vol/${rel}`, c);
  const dests = ["nas", ...(o.extraDests ?? [])];
  const require = o.require ?? ["nas"];
  w.setConfig(
    `node = "testnode"\n\n[volumes.photos]\npath = ${JSON.stringify(w.path("vol"))}\nsync_to = ${JSON.stringify(dests)}\noffload_requires = ${JSON.stringify(require)}\n\n` +
      dests.map((d) => `[destinations.${d}]\ntype = "fs"\npath = ${JSON.stringify(w.path(d))}\n`).join("\n"),
  );
  const add = w.hoard("volume", "add", "photos", w.path("vol"));
  if (add.code !== 0) throw new Error(`volume add failed: ${add.stderr}`);
  if (o.destInit !== false)
    for (const d of dests) {
      const r = w.hoard("dest", "init", d);
      if (r.code !== 0) throw new Error(`dest init failed: ${r.stderr}`);
    }
  return w;
}
