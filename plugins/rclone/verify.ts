// Verification shared by push() and verify(): a listing (listing.ts) compared with the manifest
// (compare.ts), receipts accepted or refreshed, or the bytes read back (readback.ts).

import type { FileOutcome, HandlerContext, ManifestEntry } from "../../src/kernel/plugin.ts";
import type { Plan } from "./features.ts";
import { standardPath } from "./names.ts";
import { scopeOf, type Receipts } from "./receipts.ts";
import { listHashed, listVolume, methodFor, streamed, type Listed, type Target } from "./listing.ts";
import { compareHashes, onReceipt, presence, receiptHolds, type DigestPrefetch } from "./compare.ts";
import { downloadAndHash, streamAndHash } from "./readback.ts";

export interface Verified {
  /** Exactly one outcome per entry, keyed by path. */
  outcomes: Map<string, FileOutcome>;
  /** Paths present at the destination with the right size but different content. */
  contentMismatch: Set<string>;
  /** Paths listed at the destination with the right size whose bytes could not be read back. */
  unreadable: Set<string>;
  /** False when a listing failed: nothing is known about the objects, so receipts must stay as they were. */
  complete: boolean;
}

export interface VerifyOptions {
  /** Look up only these entries (--files-from-raw) instead of listing the whole volume. */
  only?: boolean;
  /** Receipts to refresh from this verification (and, with reuse, to accept). */
  receipts?: Receipts;
  /** Accept an unchanged object's receipt instead of checking it again (push only). */
  reuse?: boolean;
  /** Standard names the copy just wrote: never accepted on a receipt. */
  transferred?: Set<string>;
  /** Local digests already being computed (started alongside the copy). */
  digests?: DigestPrefetch;
}

/** Verify entries by the plan. */
export async function verifyEntries(t: Target, plan: Plan, entries: ManifestEntry[], ctx: HandlerContext, opts: VerifyOptions = {}): Promise<Verified> {
  const out = new Map<string, FileOutcome>();
  const mismatch = new Set<string>();
  const unread = new Set<string>();
  const result: Verified = { outcomes: out, contentMismatch: mismatch, unreadable: unread, complete: true };
  if (entries.length === 0) return result;
  if (ctx.signal.aborted) {
    for (const e of entries) out.set(e.path, { path: e.path, ok: false, reason: "aborted before verification" });
    result.complete = false;
    return result;
  }
  ctx.progress({ phase: "verify", done: 0, total: entries.length });
  const receipts = opts.receipts;
  const reuse = !!(receipts && opts.reuse && receipts.size > 0);
  // where hashing reads the data (receipts are kept exactly then) and receipts may be accepted,
  // list cheaply first and hash only manifest files no receipt covers;
  // where no receipt can be accepted, the manifest's objects are hashed right away (looked up
  // by name: the destination's other files are never hashed)
  const hashNow = plan.mode === "hash" && (!receipts || !reuse) ? plan.hash : undefined;
  const listing =
    hashNow && receipts
      ? await listHashed(t, ctx, hashNow, entries)
      : await listVolume(t, ctx, { hash: hashNow, modtime: !!receipts, only: opts.only ? entries : undefined });
  if (!listing.ok) {
    for (const e of entries) out.set(e.path, { path: e.path, ok: false, reason: listing.reason, ...(listing.missing ? { missing: true } : {}) });
    result.complete = listing.missing;
    return result;
  }
  let candidates: ManifestEntry[] = [];
  let listed = new Map<string, Listed>();
  for (const e of entries) {
    const f = listing.files.get(standardPath(e.path));
    const bad = presence(t, e, f);
    if (bad) out.set(e.path, bad);
    else {
      candidates.push(e);
      listed.set(e.path, f!);
    }
  }
  const scope = scopeOf(ctx);
  if (reuse) {
    const rest: ManifestEntry[] = [];
    const now = ctx.now();
    for (const e of candidates) {
      const std = standardPath(e.path);
      const f = listed.get(e.path)!;
      const r = receipts!.get(std);
      if (r && receiptHolds(r, f, e, methodFor(t, plan, e), scope) && !opts.transferred?.has(std)) out.set(e.path, onReceipt(e, r, now));
      else rest.push(e);
    }
    candidates = rest;
  }
  let at = listing.at;
  if (plan.mode === "size") {
    for (const e of candidates) out.set(e.path, { path: e.path, ok: true, method: "size", verifiedAt: at });
  } else if (plan.mode === "hash") {
    if (!hashNow && candidates.length) {
      const second = await listHashed(t, ctx, plan.hash, candidates);
      if (!second.ok) {
        for (const e of candidates) out.set(e.path, { path: e.path, ok: false, reason: second.reason });
        candidates = [];
        result.complete = false;
      } else {
        at = second.at;
        listed = new Map();
        const rest: ManifestEntry[] = [];
        for (const e of candidates) {
          const f = second.files.get(standardPath(e.path));
          const bad = presence(t, e, f);
          if (bad) out.set(e.path, bad);
          else {
            rest.push(e);
            listed.set(e.path, f!);
          }
        }
        candidates = rest;
      }
    }
    const stream = candidates.filter((e) => streamed(t, e));
    if (stream.length) await streamAndHash(t, stream, ctx, out, mismatch, unread);
    await compareHashes(t, plan.hash, stream.length ? candidates.filter((e) => !streamed(t, e)) : candidates, listed, at, ctx, out, mismatch, opts.digests);
  } else {
    await downloadAndHash(t, candidates, ctx, out, mismatch, unread);
  }
  if (ctx.signal.aborted) result.complete = false;
  if (receipts && result.complete) {
    for (const e of candidates) {
      const std = standardPath(e.path);
      const o = out.get(e.path);
      const f = listed.get(e.path);
      if (o?.ok && !o.unchanged && f?.modtime !== undefined && scope !== undefined) receipts.set(std, { size: f.size, modtime: f.modtime, blake3: e.blake3, method: o.method, at: o.verifiedAt, scope });
      else receipts.delete(std);
    }
    for (const e of entries) if (!out.get(e.path)?.ok) receipts.delete(standardPath(e.path));
  }
  ctx.progress({ phase: "verify", done: entries.length, total: entries.length });
  return result;
}
