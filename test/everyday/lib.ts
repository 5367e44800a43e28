// Helpers of the everyday-use tests: run hoard from a chosen working directory (selectors follow
// the shell's current directory), and a bare home directory for first-run tests.

import { spawn, spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join, relative } from "node:path";
import { hoardCommand, tempDir, type Result, type World } from "../helpers.ts";

const parse = (s: string) => {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
};

/** `hoard ARGS` of world w, run with cwd `cwd` (async, so concurrent tests overlap). */
export function hoardIn(w: World, cwd: string, ...args: string[]): Promise<Result> {
  const [cmd, ...rest] = [...hoardCommand(), "--config", w.config, "--db", w.db, ...args];
  return new Promise((resolve) => {
    const c = spawn(cmd!, rest, { cwd, env: w.env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    c.stdout.on("data", (d) => (stdout += d));
    c.stderr.on("data", (d) => (stderr += d));
    c.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr, json: parse(stdout) }));
  });
}

/** An environment as on a fresh machine: HOME is an empty directory, no HOARD_* or XDG_* variables. */
export function freshHome(): { home: string; env: Record<string, string> } {
  const home = tempDir("hoard-home-");
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(HOARD_|XDG_)/.test(k)) env[k] = v;
  Object.assign(env, { HOME: home, NO_COLOR: "1", BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0", BUN_INSTALL_CACHE_DIR: join(tempDir("hoard-bun-cache-"), "c") });
  return { home, env };
}

/** Run a program synchronously in env (cwd optional). */
export function run(cmd: string, args: string[], env: Record<string, string>, cwd?: string): Result {
  const r = spawnSync(cmd, args, { env, cwd, encoding: "utf8", timeout: 180_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, json: parse(r.stdout) };
}

/** Every file and directory under dir, relative, sorted. */
export function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      out.push(relative(dir, join(d, e.name)));
      if (e.isDirectory()) walk(join(d, e.name));
    }
  };
  walk(dir);
  return out.sort();
}
