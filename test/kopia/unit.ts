// Handler-level harness for the kopia plugin: a minimal PluginApi, a handler opened on a fresh
// repository (the double, or a real kopia when KOPIA_BIN is set), volumes, manifests and contexts.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import * as v from "valibot";
import type { DestinationHandler, DestinationType, FileOutcome, HandlerContext, ManifestEntry, PluginApi } from "../../src/kernel/plugin.ts";
import { writeFileAtomic } from "../../src/kernel/atomic.ts";
import { catalogRules } from "../../src/kernel/catalogstore.ts";
import { openRoot, splitRel } from "../../src/kernel/anchored.ts";
import { spawnTool } from "../../src/kernel/spawn.ts";
import { blake3Backend, nowNs } from "../../src/kernel/runtime.ts";
import { configError, failure, refused } from "../../src/kernel/errors.ts";
import plugin from "../../plugins/kopia/index.ts";
import { ROOT } from "../helpers.ts";
import { DOUBLE_DIR } from "./harness.ts";

export function blake3Hex(data: Uint8Array): string {
  const h = blake3Backend().create();
  h.update(data);
  return h.digestHex();
}

function fakeApi(): PluginApi {
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

const made: string[] = [];
export const tmp = (prefix = "hoard-kopia-unit-"): string => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
};
export function cleanup(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

export interface Unit {
  handler: DestinationHandler;
  dir: string;
  root: string;
  repo: string;
  stateDir: string;
  /** The double's invocation log (argv per kopia run). */
  log(): string[][];
  write(rel: string, data: string | Uint8Array, mtimeSec?: number): void;
  entry(rel: string, o?: Partial<ManifestEntry>): ManifestEntry;
  ctx(o?: { receiptScope?: string; runId?: bigint }): HandlerContext;
  /** Every data blob file of the repository (double: p/…; kopia's filesystem storage: p…/…). */
  dataBlobs(): string[];
}

let nextContent = 1n;

/** A kopia destination `k` opened on a new, initialised repository and an empty volume (extraEnv: the double's fault variables). */
export async function unit(percent = 100, extraEnv: Record<string, string> = {}): Promise<Unit> {
  const dir = tmp();
  const root = join(dir, "vol");
  const repo = join(dir, "repo");
  const stateDir = join(dir, "state");
  mkdirSync(root);
  const logFile = join(dir, "kopia-log.jsonl");
  let type: DestinationType | undefined;
  plugin.setup({ ...fakeApi(), destination: (t: DestinationType) => void (type = t) } as PluginApi);
  const opts = v.parse(type!.schema, { repository: repo, password: "unit-pw", verify_files_percent: percent });
  const env = { ...process.env, PATH: `${DOUBLE_DIR}:${join(ROOT, "node_modules", ".bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`, KOPIA_DOUBLE_LOG: logFile, ...extraEnv };
  const quiet = { info() {}, warn() {}, debug() {} };
  const handler = type!.open({ ...opts, password: { value: "unit-pw", literal: false } }, { name: "k", stateDir, log: quiet, env });
  await handler.init();
  const u: Unit = {
    handler,
    dir,
    root,
    repo,
    stateDir,
    log: () => {
      try {
        return readFileSync(logFile, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l).argv);
      } catch {
        return [];
      }
    },
    write(rel, data, mtimeSec) {
      const p = join(root, ...rel.split("/"));
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, data);
      if (mtimeSec !== undefined) utimesSync(p, mtimeSec, mtimeSec);
    },
    entry(rel, o = {}) {
      const p = join(root, ...rel.split("/"));
      const data = readFileSync(p);
      const st = statSync(p, { bigint: true });
      return { path: rel, size: data.length, mtimeNs: st.mtimeNs, blake3: blake3Hex(data), contentId: nextContent++, originNode: "n1", originRun: 1n, status: "present", ...o };
    },
    ctx(o = {}) {
      const abort = new AbortController();
      return {
        runId: o.runId ?? 1n,
        volume: "photos",
        volumeRoot: root,
        epoch: 1n,
        receiptScope: o.receiptScope ?? "scope-1",
        signal: abort.signal,
        progress() {},
        log: quiet,
        warn() {},
        digests: async () => new Map(),
        blake3File: async (p) => blake3Hex(readFileSync(p)),
        blake3Stream: () => blake3Backend().create(),
        now: nowNs,
      };
    },
    dataBlobs() {
      const out: string[] = [];
      const walk = (d: string) => {
        for (const n of readdirSync(d)) {
          const p = join(d, n);
          if (statSync(p).isDirectory()) walk(p);
          else out.push(p);
        }
      };
      for (const n of readdirSync(repo)) if (n.startsWith("p") && statSync(join(repo, n)).isDirectory()) walk(join(repo, n));
      return out;
    },
  };
  return u;
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
