// confirm(): live proof right before an offload deletes local copies. "presence" is one listing of
// exactly the batch's paths (size must match) and, unless the remote is a local path, the first byte
// of each object read (a listing may come from a cache); "content" compares a stored hash (objects
// also read, as for presence) or reads all the bytes back.
//
// Never answers from receipts or anything cached about the destination: every outcome comes from
// the destination in this call. Local digests (md5/sha1/sha256) come from the kernel (ctx.digests),
// which computes them from the indexed local file.

import type { ConfirmDepth, FileOutcome, HandlerContext, ManifestEntry } from "../../src/kernel/plugin.ts";
import type { Plan } from "./features.ts";
import { standardPath } from "./names.ts";
import { unreadable } from "./readable.ts";
import { listHashed, listVolume, streamed, type Listed, type Target } from "./listing.ts";
import { compareHashes, prefetchDigests, presence } from "./compare.ts";
import { downloadAndHash, streamAndHash } from "./readback.ts";

/**
 * Objects at least this large are read back by streaming (`rclone cat` into BLAKE3, no disk);
 * smaller ones in batched downloads (one rclone process per batch, never one per file).
 */
export const CONFIRM_STREAM_MIN = 8 * 1024 * 1024;

const aborted = (e: ManifestEntry, when: string): FileOutcome => ({ path: e.path, ok: false, reason: `aborted ${when}` });

/** A promise that never rejects (started early, awaited later: no unhandled rejection meanwhile). */
const settle = <T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );

/** One outcome per entry, in the entries' order. */
export async function confirmEntries(t: Target, plan: Plan, entries: ManifestEntry[], ctx: HandlerContext, depth: ConfirmDepth): Promise<FileOutcome[]> {
  if (depth !== "presence" && depth !== "content") return entries.map((e) => ({ path: e.path, ok: false, reason: `unknown confirm depth ${JSON.stringify(depth)}` }));
  if (entries.length === 0) return [];
  if (ctx.signal.aborted) return entries.map((e) => aborted(e, "before the destination was asked"));
  const out = new Map<string, FileOutcome>();
  ctx.progress({ phase: `confirm ${depth}`, done: 0, total: entries.length });
  // content by a stored hash: the local digests are computed while the destination hashes
  const byHash = depth === "content" && plan.mode === "hash" ? plan.hash : undefined;
  const digests = byHash ? prefetchDigests(t, plan, entries, ctx) : undefined;
  // one listing of exactly these paths (names rclone cannot open are never asked for: missing)
  const listing = byHash ? await listHashed(t, ctx, byHash, entries) : await listVolume(t, ctx, { modtime: false, only: entries });
  if (!listing.ok) {
    const o = (e: ManifestEntry): FileOutcome => ({ path: e.path, ok: false, reason: listing.reason, ...(listing.missing ? { missing: true } : {}) });
    if (digests) await digests.result; // nothing may outlive the call
    return entries.map(o);
  }
  const listed = new Map<string, Listed>();
  const candidates: ManifestEntry[] = [];
  for (const e of entries) {
    const f = listing.files.get(standardPath(e.path));
    const bad = presence(t, e, f);
    if (bad) out.set(e.path, bad);
    else {
      candidates.push(e);
      listed.set(e.path, f!);
    }
  }
  if (depth === "presence") {
    // a listing only says the object was listed; off this machine it may be a cache's answer
    const unread = t.local ? new Map<string, string>() : await unreadable(t, candidates, ctx);
    for (const e of candidates) {
      const why = unread.get(e.path);
      out.set(e.path, why === undefined ? { path: e.path, ok: true, method: "presence", verifiedAt: listing.at } : { path: e.path, ok: false, reason: why });
    }
  } else {
    const mismatch = new Set<string>();
    // by the stored hash where the listing gave one (large local objects: streamed, see Target.streamMin)
    const hashed = byHash ? candidates.filter((e) => !streamed(t, e) && listed.get(e.path)!.hash !== undefined) : [];
    const hashedSet = new Set(hashed);
    // everything else is read back and hashed with BLAKE3 against the index
    const readBack = candidates.filter((e) => !hashedSet.has(e));
    const stream = readBack.filter((e) => streamed(t, e) || e.size >= CONFIRM_STREAM_MIN);
    const streamSet = new Set(stream);
    const download = readBack.filter((e) => !streamSet.has(e));
    // a stored hash comes from the same listing: off this machine the object is also read (alongside)
    const reading = !t.local && hashed.length ? settle(unreadable(t, hashed, ctx)) : undefined;
    if (byHash && hashed.length) await compareHashes(t, byHash, hashed, listed, listing.at, ctx, out, mismatch, digests);
    else if (digests) await digests.result;
    if (reading) {
      const r = await reading;
      if (!r.ok) throw r.error;
      const unread = r.value;
      for (const e of hashed) {
        const why = unread.get(e.path);
        if (why !== undefined && out.get(e.path)?.ok) out.set(e.path, { path: e.path, ok: false, reason: why });
      }
    }
    if (stream.length) await streamAndHash(t, stream, ctx, out, mismatch);
    if (download.length) await downloadAndHash(t, download, ctx, out, mismatch);
  }
  ctx.progress({ phase: `confirm ${depth}`, done: entries.length, total: entries.length });
  return entries.map((e) => out.get(e.path) ?? (ctx.signal.aborted ? aborted(e, "before it was confirmed") : { path: e.path, ok: false, reason: "not confirmed" }));
}
