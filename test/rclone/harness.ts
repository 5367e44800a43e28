// Test harness for the rclone plugin: a minimal PluginApi, real temp volumes with manifests, a
// HandlerContext whose digests are computed with node:crypto, and rclone servers on free ports.

import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import * as v from "valibot";
import type { DestinationHandler, DestinationType, FileOutcome, HandlerContext, ManifestEntry, PluginApi, Progress } from "../../src/kernel/plugin.ts";
import { writeFileAtomic } from "../../src/kernel/atomic.ts";
import { catalogRules } from "../../src/kernel/catalogstore.ts";
import { openRoot, splitRel } from "../../src/kernel/anchored.ts";
import { spawnTool } from "../../src/kernel/spawn.ts";
import { blake3Backend, nowNs } from "../../src/kernel/runtime.ts";
import { configError, failure, refused } from "../../src/kernel/errors.ts";
import plugin from "../../plugins/rclone/index.ts";

export const REAL_RCLONE = execFileSync("sh", ["-c", "command -v rclone"]).toString().trim();
export const FAKE_RCLONE = join(import.meta.dir, "..", "fixtures", "fake-rclone", "rclone");

export function blake3Hex(data: Uint8Array): string {
  const h = blake3Backend().create();
  h.update(data);
  return h.digestHex();
}

function blake3File(p: string): Promise<string> {
  return Promise.resolve(blake3Hex(readFileSync(p)));
}

export function fakeApi(): PluginApi {
  return {
    apiVersion: 1,
    v,
    destination: () => {},
    policy: () => {},
    on: () => {},
    configKey: (_scope, key) => ({ key, get: (t) => t[key] as any }),
    util: {
      secret: () => v.string() as any,
      parseDuration: () => 0n,
      formatDuration: (ns) => `${ns}ns`,
      spawn: (cmd, args, opts) => spawnTool(cmd, args, opts),
      blake3File,
      blake3Stream: () => blake3Backend().create(),
      nowNs,
      writeFileAtomic,
      catalogs: catalogRules,
      anchored: { openRoot, splitRel },
      errors: {
        refused: (c, m, h) => refused(c, m, h),
        failure: (c, m, h) => failure(c, m, h),
        config: (c, m, h) => configError(c, m, h),
      },
    },
  };
}

/** The rclone destination type, registered through the plugin's own setup(). */
export function rcloneType(api = fakeApi()): { api: PluginApi; type: DestinationType } {
  let type: DestinationType | undefined;
  plugin.setup({ ...api, destination: (t: DestinationType) => void (type = t) } as PluginApi);
  if (!type) throw new Error("plugin registered no destination");
  return { api, type };
}

const made: string[] = [];
/** A new temp dir, removed by cleanup(). */
export const tmp = (prefix = "hoard-rclone-"): string => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
};
/** Remove every temp dir made so far (call from afterAll in each test file). */
export function cleanup(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

export interface Opened {
  handler: DestinationHandler;
  stateDir: string;
  logs: string[];
}

/** Validate options with the plugin's schema and open a handler. */
export function open(options: Record<string, unknown>, env: Record<string, string | undefined> = {}, name = "d"): Opened {
  const { type } = rcloneType();
  const parsed = v.parse(type.schema, options);
  const stateDir = tmp("hoard-rclone-state-");
  const logs: string[] = [];
  const log = { info: (m: string) => logs.push(`info ${m}`), warn: (m: string) => logs.push(`warn ${m}`), debug: (m: string) => logs.push(`debug ${m}`) };
  // an isolated rclone config unless the test sets one: rclone may write to it (sftp does)
  const fullEnv = { RCLONE_CONFIG: join(stateDir, "rclone.conf"), ...env };
  return { handler: type.open(parsed, { name, stateDir, log, env: fullEnv }), stateDir, logs };
}

export interface Volume {
  root: string;
  manifest: ManifestEntry[];
}

let nextContent = 1n;

/** Create files under a new volume root and the manifest that indexes them. */
export function makeVolume(files: Record<string, string | Uint8Array>, opts: { root?: string; originRun?: bigint } = {}): Volume {
  const root = opts.root ?? tmp("hoard-rclone-vol-");
  writeFileSync(join(root, ".hoard-volume"), JSON.stringify({ volume: "v" }));
  const manifest: ManifestEntry[] = [];
  for (const [path, content] of Object.entries(files)) {
    const p = join(root, ...path.split("/"));
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
    manifest.push(entryFor(root, path, opts.originRun));
  }
  return { root, manifest };
}

/** A manifest entry for a file as it is on disk now. */
export function entryFor(root: string, path: string, originRun = 1n): ManifestEntry {
  const p = join(root, ...path.split("/"));
  const data = readFileSync(p);
  const st = statSync(p, { bigint: true });
  return { path, size: data.length, mtimeNs: st.mtimeNs, blake3: blake3Hex(data), contentId: nextContent++, originNode: "n1", originRun, status: "present" };
}

export interface TestCtx extends HandlerContext {
  warnings: string[];
  progressLog: Progress[];
  logs: string[];
  digestCalls: { algo: string; count: number }[];
  abort: AbortController;
}

/**
 * A HandlerContext; digests come from the local files (node:crypto) plus a cache seeded by the test.
 * Every context shares one receipt scope ("scope-1") unless the test gives another (or null: none,
 * as a kernel that does not pass one yet).
 */
export function makeCtx(vol: Volume, o: { volume?: string; runId?: bigint; epoch?: bigint; receiptScope?: string | null; cache?: Map<string, string> } = {}): TestCtx {
  const abort = new AbortController();
  const cache = o.cache ?? new Map<string, string>(); // `${algo}:${contentId}` -> hex
  const ctx: TestCtx = {
    runId: o.runId ?? 7n,
    volume: o.volume ?? "vol",
    epoch: o.epoch ?? 1n,
    receiptScope: (o.receiptScope === null ? undefined : (o.receiptScope ?? "scope-1")) as string,
    volumeRoot: vol.root,
    signal: abort.signal,
    abort,
    warnings: [],
    progressLog: [],
    logs: [],
    digestCalls: [],
    progress(p) {
      ctx.progressLog.push(p);
    },
    log: { info: (m) => ctx.logs.push(`info ${m}`), warn: (m) => ctx.logs.push(`warn ${m}`), debug: (m) => ctx.logs.push(`debug ${m}`) },
    warn(m) {
      if (!ctx.warnings.includes(m)) ctx.warnings.push(m);
    },
    async digests(entries, algo) {
      ctx.digestCalls.push({ algo, count: entries.length });
      const out = new Map<bigint, string>();
      for (const e of entries) {
        const key = `${algo}:${e.contentId}`;
        let d = cache.get(key);
        if (!d && e.status === "present") {
          try {
            const data = readFileSync(join(vol.root, ...e.path.split("/")));
            if (blake3Hex(data) === e.blake3) d = createHash(algo).update(data).digest("hex");
          } catch {
            /* unreadable: no digest */
          }
          if (d) cache.set(key, d);
        }
        if (d) out.set(e.contentId, d);
      }
      return out;
    },
    blake3File,
    blake3Stream: () => blake3Backend().create(),
    now: nowNs,
  };
  return ctx;
}

export async function outcomes(src: AsyncIterable<FileOutcome> | Promise<FileOutcome[]>): Promise<Map<string, FileOutcome>> {
  let list: FileOutcome[];
  if (typeof (src as any).then === "function") list = await (src as Promise<FileOutcome[]>);
  else {
    list = [];
    for await (const x of src as AsyncIterable<FileOutcome>) list.push(x);
  }
  return new Map(list.map((o) => [o.path, o]));
}

// ---------- servers ----------

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitListening(port: number, proc: ChildProcess, out: () => string, ms = 15000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (proc.exitCode !== null) throw new Error(`server exited early: ${out()}`);
    const ok = await new Promise<boolean>((res) => {
      const c = connect(port, "127.0.0.1");
      c.once("connect", () => (c.destroy(), res(true)));
      c.once("error", () => res(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`server did not listen on ${port}: ${out()}`);
}

export interface Server {
  port: number;
  dir: string;
  stop(): void;
}

/** `rclone serve <kind>` on 127.0.0.1, a free port, serving `dir` (default: a new temp dir); credentials via env only. */
export async function serve(kind: "webdav" | "sftp", env: Record<string, string> = {}, dir = tmp(`hoard-rclone-${kind}-`)): Promise<Server> {
  const port = await freePort();
  const home = tmp("hoard-rclone-srvhome-");
  const proc = spawn(REAL_RCLONE, ["serve", kind, "--addr", `127.0.0.1:${port}`, dir], {
    env: { ...process.env, RCLONE_CONFIG: join(home, "rclone.conf"), RCLONE_CACHE_DIR: join(home, "cache"), HOME: home, ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  proc.stderr!.on("data", (d) => (err += d));
  await waitListening(port, proc, () => err);
  return {
    port,
    dir,
    stop() {
      if (proc.exitCode === null && proc.pid) process.kill(proc.pid, "SIGTERM");
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** Overwrite a file keeping its exact (nanosecond) timestamps: a change size and mtime cannot see. */
export function overwriteKeepingTimes(p: string, content: string | Uint8Array): void {
  const ref = `${p}.timeref`;
  writeFileSync(ref, "");
  execFileSync("touch", ["-r", p, ref]);
  writeFileSync(p, content);
  execFileSync("touch", ["-r", ref, p]);
  rmSync(ref);
}

/** `rclone obscure` of a password (the form RCLONE_CONFIG_<REMOTE>_PASS takes). */
export function obscure(pw: string): string {
  return execFileSync(REAL_RCLONE, ["obscure", "-"], { input: pw, env: { ...process.env, RCLONE_CONFIG: "/dev/null" } })
    .toString()
    .trim();
}

/** `rclone serve sftp` on 127.0.0.1 with a random password, and the env that defines remote SFTPD for it. */
export async function serveSftpRemote(): Promise<{ server: Server; env: Record<string, string>; pass: string }> {
  const pass = "sftp-Pa55word-" + Math.random().toString(36).slice(2);
  const server = await serve("sftp", { RCLONE_USER: "hoard", RCLONE_PASS: pass });
  const env = {
    RCLONE_CONFIG_SFTPD_TYPE: "sftp",
    RCLONE_CONFIG_SFTPD_HOST: "127.0.0.1",
    RCLONE_CONFIG_SFTPD_PORT: String(server.port),
    RCLONE_CONFIG_SFTPD_USER: "hoard",
    RCLONE_CONFIG_SFTPD_PASS: obscure(pass),
  };
  return { server, env, pass };
}

/** A handler whose every rclone call is logged (argv) and passed through to the real rclone. */
export function logged(options: Record<string, unknown>, name = "d") {
  const log = join(tmp(), "argv.log");
  const o = open({ ...options, binary: FAKE_RCLONE }, { HOARD_FAKE_RCLONE_MODE: "argvlog", HOARD_FAKE_RCLONE_LOG: log, HOARD_FAKE_RCLONE_REAL: REAL_RCLONE }, name);
  let seen = 0;
  /** The rclone subcommands run since the last call (preflight's version/backend left out). */
  const calls = (): { sub: string; argv: string[] }[] => {
    const text = existsSync(log) ? readFileSync(log, "utf8") : "";
    const all = text
      .split(/^---- /m)
      .slice(1)
      .map((b) => {
        const [sub, ...argv] = b.replace(/\n$/, "").split("\n");
        return { sub: sub!, argv };
      });
    const fresh = all.slice(seen);
    seen = all.length;
    return fresh.filter((c) => c.sub !== "version" && c.sub !== "backend");
  };
  return { ...o, calls };
}
