// Opening configured destinations and building the HandlerContext a handler runs with
// (progress, warnings, cached secondary digests, BLAKE3 helpers).

import { join } from "node:path";
import { randomUUID } from "node:crypto";
import type { DestinationHandler, HandlerContext, ManifestEntry } from "../kernel/plugin.ts";
import { usageError } from "../kernel/errors.ts";
import { cachedDigest, storeDigest } from "../kernel/files.ts";
import { mkdirPrivate } from "../kernel/db.ts";
import { hashFile, hashFileWithDigests, streamHasher } from "../kernel/hash.ts";
import { nowNs } from "../kernel/runtime.ts";
import type { OpContext } from "./context.ts";
import type { DestinationConfig } from "../config/schema.ts";

export interface OpenDestination {
  name: string;
  config: DestinationConfig;
  handler: DestinationHandler;
}

const cache = new WeakMap<OpContext, Map<string, OpenDestination>>();

export function openDestination(ctx: OpContext, name: string): OpenDestination {
  let m = cache.get(ctx);
  if (!m) cache.set(ctx, (m = new Map()));
  const hit = m.get(name);
  if (hit) return hit;
  const config = ctx.config.destinations[name];
  if (!config)
    throw usageError("unknown_destination", `unknown destination ${name}: it is not declared in the config`, `declare [destinations.${name}] in ${ctx.config.file || "the config"}` + (Object.keys(ctx.config.destinations).length ? ` (known: ${Object.keys(ctx.config.destinations).join(", ")})` : ""));
  const type = ctx.registry.destinationType(config.type);
  const stateDir = join(ctx.dataDir, "destinations", name);
  mkdirPrivate(stateDir);
  const handler = type.open(config.options, { name, stateDir, log: ctx.log, env: process.env });
  const od = { name, config, handler };
  m.set(name, od);
  return od;
}

export function handlerContext(ctx: OpContext, o: { runId: bigint; volume: string; volumeRoot: string; epoch: bigint; receiptScope?: string; signal: AbortSignal; warnings: string[] }): HandlerContext {
  return {
    runId: o.runId,
    // no scope given (restore, tests): a fresh one that matches no stored receipt
    receiptScope: o.receiptScope ?? randomUUID(),
    volume: o.volume,
    volumeRoot: o.volumeRoot,
    epoch: o.epoch,
    signal: o.signal,
    progress: ctx.progress,
    log: ctx.log,
    warn(msg) {
      if (!o.warnings.includes(msg)) {
        o.warnings.push(msg);
        ctx.log.warn(msg);
      }
    },
    async digests(entries: ManifestEntry[], algo) {
      const out = new Map<bigint, string>();
      const todo = new Map<bigint, ManifestEntry>();
      for (const e of entries) {
        if (out.has(e.contentId)) continue;
        const c = cachedDigest(ctx.db, e.contentId, algo);
        if (c) out.set(e.contentId, c);
        else if (e.status === "present") todo.set(e.contentId, e);
      }
      const fresh: [bigint, string][] = [];
      for (const [cid, e] of todo) {
        const path = join(o.volumeRoot, e.path);
        // the secondary digest and the BLAKE3 from one read of the same bytes: a file that changed
        // since indexing (or while it was read) gets no digest
        const h = await hashFileWithDigests(path, [algo]);
        if (h.changed || h.blake3 !== e.blake3) continue;
        const digest = h.digests[algo];
        if (digest) {
          out.set(cid, digest);
          fresh.push([cid, digest]);
        }
      }
      if (fresh.length) ctx.db.tx(() => fresh.forEach(([cid, d]) => storeDigest(ctx.db, cid, algo, d)));
      return out;
    },
    blake3File: async (p) => (await hashFile(p)).blake3,
    blake3Stream: streamHasher,
    now: nowNs,
  };
}

/** Collect a handler's outcomes whether it returns an array or streams them. */
export async function collect<T>(src: AsyncIterable<T> | Promise<T[]>): Promise<T[]> {
  if (typeof (src as any)?.then === "function") return await (src as Promise<T[]>);
  const out: T[] = [];
  for await (const x of src as AsyncIterable<T>) out.push(x);
  return out;
}
