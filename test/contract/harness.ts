// What the destination contract suite needs from each destination type: open a handler on one place,
// damage or wipe that place, and see every argv spawned; plus volumes, manifests and contexts.

import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import * as v from "valibot";
import type { DestinationHandler, DestinationType, FileOutcome, HandlerContext, ManifestEntry, Plugin, PluginApi, Progress } from "../../src/kernel/plugin.ts";
import { writeFileAtomic } from "../../src/kernel/atomic.ts";
import { catalogRules } from "../../src/kernel/catalogstore.ts";
import { openRoot, splitRel } from "../../src/kernel/anchored.ts";
import { spawnTool } from "../../src/kernel/spawn.ts";
import { blake3Backend, nowNs } from "../../src/kernel/runtime.ts";
import { configError, failure, refused } from "../../src/kernel/errors.ts";

export interface Target {
  /** A new handler on the destination (a new instance each call; the same place and state dir). */
  handler(): DestinationHandler;
  /** A handler on a place that cannot be reached (identify must throw, not say "uninitialised"). */
  unreachable(): DestinationHandler;
  /** Delete the destination and leave an empty, uninitialised place where it was. */
  wipe(): void;
  /** Every stored data file (objects, packs, blobs): what loss and corruption act on. */
  dataFiles(): string[];
  /** A distinctive secret the destination is configured with (absent: it has none). */
  secret?: string;
  /** argv of every process the handler spawned so far (absent: it spawns none). */
  argv?(): string[][];
}
export type MakeDestination = () => Promise<Target> | Target;

export function blake3Hex(data: Uint8Array): string {
  const h = blake3Backend().create();
  h.update(data);
  return h.digestHex();
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
      blake3File: async (p) => blake3Hex(readFileSync(p)),
      blake3Stream: () => blake3Backend().create(),
      nowNs,
      writeFileAtomic,
      catalogs: catalogRules,
      anchored: { openRoot, splitRel },
      errors: { refused: (c, m, h) => refused(c, m, h), failure: (c, m, h) => failure(c, m, h), config: (c, m, h) => configError(c, m, h) },
    },
  };
}

/** The destination type a plugin registers, through its own setup(). */
export function typeOf(plugin: Plugin, name: string): DestinationType {
  let type: DestinationType | undefined;
  plugin.setup({ ...fakeApi(), destination: (t: DestinationType) => void (t.name === name && (type = t)) } as PluginApi);
  if (!type) throw new Error(`plugin ${plugin.name} registered no destination ${name}`);
  return type;
}

/** A handler opened as hoard opens one: options validated by the type's schema. */
export function openType(type: DestinationType, options: Record<string, unknown>, stateDir: string, env: Record<string, string | undefined> = {}, fix?: (parsed: any) => any): DestinationHandler {
  let parsed = v.parse(type.schema, options);
  if (fix) parsed = fix(parsed);
  const quiet = { info() {}, warn() {}, debug() {} };
  return type.open(parsed, { name: "d", stateDir, log: quiet, env: { ...process.env, ...env } });
}

const made: string[] = [];
export const tmp = (prefix = "hoard-contract-"): string => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
};
export function cleanup(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Every regular file below dir, skipping names for which skip() is true (at any depth). */
export function filesUnder(dir: string, skip: (name: string, rel: string) => boolean = () => false, rel = ""): string[] {
  const out: string[] = [];
  if (!existsSync(dir)) return out;
  for (const n of readdirSync(dir)) {
    const r = rel ? `${rel}/${n}` : n;
    if (skip(n, r)) continue;
    const p = join(dir, n);
    const st = lstatSync(p);
    if (st.isDirectory()) out.push(...filesUnder(p, skip, r));
    else if (st.isFile()) out.push(p);
  }
  return out;
}

/** A wrapper executable that logs its argv (NUL-separated, one line per call) and runs `real`. */
export function argvWrapper(dir: string, real: string): { bin: string; argv(): string[][] } {
  const log = join(dir, "argv.log");
  const bin = join(dir, "argv-wrapper");
  writeFileSync(bin, `#!/bin/sh\nfor a in "$@"; do printf '%s\\001' "$a"; done >> '${log}'\nprintf '\\n' >> '${log}'\nexec '${real}' "$@"\n`);
  chmodSync(bin, 0o755);
  return {
    bin,
    argv: () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean).map((l) => l.split("\u0001").slice(0, -1)) : []),
  };
}

export const which = (cmd: string): string => execFileSync("sh", ["-c", `command -v ${cmd}`]).toString().trim();

// ---------- volumes, manifests, contexts ----------

let nextContent = 1n;

export class Volume {
  readonly root: string;
  /** The kernel's digest cache: secondary digests are computed once per content and kept after an offload. */
  readonly digestCache = new Map<string, string>();
  constructor(root?: string) {
    this.root = root ?? tmp("hoard-contract-vol-");
    writeFileSync(join(this.root, ".hoard-volume"), JSON.stringify({ volume: "vol" }));
  }
  write(rel: string, data: string | Uint8Array): ManifestEntry {
    const p = join(this.root, ...rel.split("/"));
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, data);
    return this.entry(rel);
  }
  entry(rel: string, o: Partial<ManifestEntry> = {}): ManifestEntry {
    const p = join(this.root, ...rel.split("/"));
    const data = readFileSync(p);
    const st = statSync(p, { bigint: true });
    return { path: rel, size: data.length, mtimeNs: st.mtimeNs, blake3: blake3Hex(data), contentId: nextContent++, originNode: "n1", originRun: 1n, status: "present", ...o };
  }
  remove(rel: string): void {
    rmSync(join(this.root, ...rel.split("/")));
  }
}

export interface Ctx extends HandlerContext {
  abort: AbortController;
  progressLog: Progress[];
  warnings: string[];
}

export function makeCtx(vol: Volume, o: { receiptScope?: string; runId?: bigint; onProgress?(p: Progress, ctx: Ctx): void } = {}): Ctx {
  const abort = new AbortController();
  const quiet = { info() {}, warn() {}, debug() {} };
  const ctx: Ctx = {
    runId: o.runId ?? 1n,
    volume: "vol",
    volumeRoot: vol.root,
    epoch: 1n,
    receiptScope: o.receiptScope ?? "scope-1",
    signal: abort.signal,
    abort,
    progressLog: [],
    warnings: [],
    progress(p) {
      ctx.progressLog.push(p);
      o.onProgress?.(p, ctx);
    },
    log: quiet,
    warn(m) {
      ctx.warnings.push(m);
    },
    async digests(entries, algo) {
      const { createHash } = await import("node:crypto");
      const out = new Map<bigint, string>();
      for (const e of entries) {
        const key = `${algo}:${e.contentId}`;
        let d = vol.digestCache.get(key);
        if (d === undefined && e.status === "present")
          try {
            const data = readFileSync(join(vol.root, ...e.path.split("/")));
            if (blake3Hex(data) === e.blake3) vol.digestCache.set(key, (d = createHash(algo).update(data).digest("hex")));
          } catch {}
        if (d !== undefined) out.set(e.contentId, d);
      }
      return out;
    },
    blake3File: async (p) => blake3Hex(readFileSync(p)),
    blake3Stream: () => blake3Backend().create(),
    now: nowNs,
  };
  return ctx;
}

export async function collect(src: AsyncIterable<FileOutcome> | Promise<FileOutcome[]>): Promise<FileOutcome[]> {
  if (typeof (src as any).then === "function") return await (src as Promise<FileOutcome[]>);
  const list: FileOutcome[] = [];
  for await (const x of src as AsyncIterable<FileOutcome>) list.push(x);
  return list;
}

/** Overwrite a file with other bytes of the same length, keeping its exact timestamps. */
export function corruptKeepingTimes(p: string): void {
  const ref = `${p}.timeref`;
  writeFileSync(ref, "");
  execFileSync("touch", ["-r", p, ref]);
  const d = readFileSync(p);
  for (let i = 0; i < d.length; i++) d[i] = d[i]! ^ 0x5a;
  writeFileSync(p, d);
  execFileSync("touch", ["-r", ref, p]);
  rmSync(ref);
}
