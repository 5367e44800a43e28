// Helpers of the rclone end-to-end tests: a world (volume `photos` → rclone destination `r`) driven
// through the real hoard CLI, read-only DB queries, and small assertions on exit codes and output.

import { execFileSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { world, type Result, type World } from "../helpers.ts";

export const REAL_RCLONE = execFileSync("sh", ["-c", "command -v rclone"]).toString().trim();

export interface DestOptions {
  remote: string;
  verify?: "hash" | "download";
  binary?: string;
  /** Extra TOML lines of the destination table (e.g. `reverify_budget = "0"`). */
  extra?: string[];
  rclone_config?: string;
}

export interface RWorld extends World {
  dest: DestOptions;
  volPath: string;
  /** Rewrite the config from `dest` and `volPath` (after changing either). */
  writeConfig(): void;
  /** `hoard ARGS` (async child process); asserts the exit code, showing the output when it differs. */
  run(expected: number | number[], ...args: string[]): Promise<Result>;
  /** Every stdout and stderr this world's hoard processes printed (for "no secret anywhere" checks). */
  outputs: string[];
}

export const DEFAULT_FILES: Record<string, string | Uint8Array> = {
  "a.txt": "alpha\n",
  "dir/b c.txt": "bravo with a space\n",
  "dir/sub/ü.bin": new Uint8Array(40_000).map((_, i) => (i * 7 + 3) & 0xff),
};

const made: World[] = [];
/** Remove every world made so far (call from afterAll). */
export function cleanupWorlds(): void {
  for (const w of made.splice(0)) w.cleanup();
}

/**
 * A world with volume `photos` at vol/ (files written, `volume add` done) and an rclone destination
 * `r` (offload requires it). `dest` may use w.path() through the callback. Initialised unless init=false.
 */
export async function rcloneWorld(o: { dest: (w: World) => DestOptions; files?: Record<string, string | Uint8Array>; env?: Record<string, string>; init?: boolean }): Promise<RWorld> {
  const base = world();
  made.push(base);
  const w = base as RWorld;
  // an rclone config of its own (rclone may write to it, e.g. sftp host keys); remotes come from env
  Object.assign(w.env, { RCLONE_CONFIG: w.path("rclone.conf") }, o.env ?? {});
  w.outputs = [];
  w.volPath = w.path("vol");
  w.dest = o.dest(w);
  mkdirSync(w.volPath, { recursive: true });
  for (const [rel, c] of Object.entries(o.files ?? DEFAULT_FILES)) w.write(`vol/${rel}`, c);
  w.writeConfig = () => {
    const d = w.dest;
    const lines = [`type = "rclone"`, `remote = ${JSON.stringify(d.remote)}`];
    if (d.verify) lines.push(`verify = ${JSON.stringify(d.verify)}`);
    if (d.binary) lines.push(`binary = ${JSON.stringify(d.binary)}`);
    if (d.rclone_config) lines.push(`rclone_config = ${JSON.stringify(d.rclone_config)}`);
    if (d.extra) lines.push(...d.extra);
    w.setConfig(`node = "testnode"\n\n[volumes.photos]\npath = ${JSON.stringify(w.volPath)}\nsync_to = ["r"]\noffload_requires = ["r"]\n\n[destinations.r]\n${lines.join("\n")}\n`);
  };
  w.run = async (expected, ...args) => {
    const r = await w.hoardAsync(...args);
    w.outputs.push(r.stdout, r.stderr);
    const ok = Array.isArray(expected) ? expected.includes(r.code) : r.code === expected;
    if (!ok) throw new Error(`hoard ${args.join(" ")}: expected exit ${expected}, got ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    return r;
  };
  w.writeConfig();
  await w.run(0, "volume", "add", "photos", w.volPath);
  if (o.init !== false) await w.run(0, "dest", "init", "r");
  return w;
}

// the read-only DB helpers are shared with the fs end-to-end tests
export { rows, row, liveStatus } from "../e2e/lib.ts";
import { row, rows } from "../e2e/lib.ts";

export const allStatus = (files: Record<string, unknown>, status: string) => Object.fromEntries(Object.keys(files).sort().map((p) => [p, status]));

/** The evidence row of photos → r (bigints), or undefined. */
export function evidenceRow(w: World) {
  return row<{ origin_run: bigint; method: string; verified_at: bigint | null; confirmed_run: bigint | null; updated_at: bigint; epoch: bigint }>(w, "SELECT * FROM evidence WHERE volume = 'photos' AND destination = 'r'");
}
export const historyKinds = (w: World) => rows<{ kind: string }>(w, "SELECT kind FROM evidence_history ORDER BY id").map((h) => h.kind);
export const lastRun = (w: World, kind: string) => row<{ id: bigint; status: string; error: string | null }>(w, "SELECT id, status, error FROM runs WHERE kind = ? ORDER BY id DESC LIMIT 1", kind);

/** The id of the run a `hoard index --json` printed. */
export const runId = (r: Result): number => {
  const id = r.json?.run_id ?? r.json?.results?.[0]?.run_id;
  if (typeof id !== "number") throw new Error(`no run id in ${r.stdout}`);
  return id;
};

export const bytesOf = (c: string | Uint8Array) => (typeof c === "string" ? Buffer.from(c) : Buffer.from(c));
/** Assert each file under dir has exactly the given content. */
export function sameFiles(dir: string, files: Record<string, string | Uint8Array>): void {
  for (const [rel, c] of Object.entries(files)) {
    const p = `${dir}/${rel}`;
    if (!existsSync(p)) throw new Error(`${p} does not exist`);
    if (!readFileSync(p).equals(bytesOf(c))) throw new Error(`${p} differs from the expected content`);
  }
}

/** The chosen stored hash for a list of hashes (hoard's preference without blake3 on rclone < 1.71). */
export const preferredHash = (hashes: string[]) => ["sha256", "sha1", "md5"].find((h) => hashes.includes(h));

/** Flip one bit of a file in place, keeping its size and exact mtime (a silent corruption). */
export function flipBit(path: string, offset = 0): void {
  const mtime = lstatSync(path, { bigint: true }).mtimeNs;
  const b = readFileSync(path);
  b[offset] = b[offset]! ^ 0x01;
  writeFileSync(path, b);
  const s = `@${mtime / 1_000_000_000n}.${String(mtime % 1_000_000_000n).padStart(9, "0")}`;
  execFileSync("touch", ["-m", "-d", s, path]);
}
