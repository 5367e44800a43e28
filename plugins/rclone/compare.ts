// Comparing a listing with the manifest: presence and size, whether a receipt still speaks for an
// object, and the destination's stored hash against the same hash of the indexed content.

import type { FileOutcome, HandlerContext, ManifestEntry } from "../../src/kernel/plugin.ts";
import type { HashAlgo, Plan } from "./features.ts";
import { rcloneCanAddress } from "./names.ts";
import { receiptTime, type Receipt } from "./receipts.ts";
import { streamed, type Listed, type Target } from "./listing.ts";
import { downloadAndHash } from "./readback.ts";

const notAddressable = (t: Target) =>
  `rclone cannot address this file name (it contains the character U+201B "‛", which rclone's local backend cannot open), so it cannot be stored at ${t.dest} through rclone; rename the file`;

/** Existence and size against a listing: an outcome for entries that fail, undefined for candidates. */
export function presence(t: Target, e: ManifestEntry, f: Listed | undefined): FileOutcome | undefined {
  if (!f) {
    const reason = rcloneCanAddress(e.path) ? `missing at ${t.dest}` : `missing at ${t.dest}: ${notAddressable(t)}`;
    return { path: e.path, ok: false, missing: true, reason };
  }
  if (f.size !== e.size) return { path: e.path, ok: false, reason: `size at ${t.dest} is ${f.size < 0 ? "unknown" : f.size}, expected ${e.size}` };
  return undefined;
}

/**
 * Whether a receipt still speaks for a listed object: the listing shows the size and modtime the
 * object had when its content was proven equal to this entry's BLAKE3, by the method in use,
 * under the kernel's current receipt scope (a reset, a new identity or an evidence rewind means
 * nothing checked before it is trusted). An entry the kernel asks to recheck never holds.
 */
export function receiptHolds(r: Receipt, f: Listed, e: ManifestEntry, method: string, scope: string | undefined): boolean {
  if (e.recheck === true || scope === undefined || r.scope !== scope) return false;
  return f.modtime !== undefined && r.modtime === f.modtime && r.size === f.size && f.size === e.size && r.blake3 === e.blake3 && r.method === method;
}

/** The outcome of an entry accepted on its receipt: `unchanged`, at the receipt's time (never later than now). */
export const onReceipt = (e: ManifestEntry, r: Receipt, now: bigint): FileOutcome => ({ path: e.path, ok: true, unchanged: true, method: r.method, verifiedAt: receiptTime(r, now) });

/** Local secondary digests computed while something else runs (the copy). */
export interface DigestPrefetch {
  algo: HashAlgo;
  /** Contents it was asked for: never asked again, whatever the answer. */
  asked: Set<bigint>;
  result: Promise<{ ok: true; digests: Map<bigint, string> } | { ok: false; error: unknown }>;
}

/**
 * Start computing the local digests a hash plan will compare these entries with. The kernel
 * computes each from the indexed file (checking its BLAKE3 on the way) or takes it from its
 * cache; a failure is kept and reported per file later.
 */
export function prefetchDigests(t: Target, plan: Plan, all: ManifestEntry[], ctx: HandlerContext): DigestPrefetch | undefined {
  const entries = all.filter((e) => !streamed(t, e));
  if (plan.mode !== "hash" || plan.hash === "blake3" || entries.length === 0) return undefined;
  const algo = plan.hash;
  const result = ctx.digests(entries, algo).then(
    (digests) => ({ ok: true as const, digests }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  return { algo, asked: new Set(entries.map((e) => e.contentId)), result };
}

export async function compareHashes(
  t: Target,
  algo: HashAlgo,
  cands: ManifestEntry[],
  listed: Map<string, Listed>,
  at: bigint,
  ctx: HandlerContext,
  out: Map<string, FileOutcome>,
  mismatch: Set<string>,
  pre?: DigestPrefetch,
) {
  const withHash = cands.filter((e) => {
    if (listed.get(e.path)!.hash !== undefined) return true;
    out.set(e.path, { path: e.path, ok: false, reason: `${t.dest} gave no ${algo} for this object (some backends do not store one, e.g. for multipart uploads); set verify = "download" to check it by reading it back` });
    return false;
  });
  let local: Map<bigint, string>;
  if (algo === "blake3") local = new Map(withHash.map((e) => [e.contentId, e.blake3.toLowerCase()]));
  else {
    try {
      local = new Map();
      let need = withHash;
      if (pre && pre.algo === algo && withHash.length) {
        const r = await pre.result;
        if (!r.ok) throw r.error;
        for (const e of withHash) {
          const d = r.digests.get(e.contentId);
          if (d !== undefined) local.set(e.contentId, d);
        }
        need = withHash.filter((e) => !pre.asked.has(e.contentId));
      }
      if (need.length) for (const [k, d] of await ctx.digests(need, algo)) local.set(k, d);
    } catch (err: any) {
      const why = t.rc.redact(String(err?.message ?? err));
      for (const e of withHash) out.set(e.path, { path: e.path, ok: false, reason: `could not compute the local ${algo} to compare with: ${why}` });
      return;
    }
  }
  // offloaded content with no cached digest (e.g. a database rebuilt by `recover`): read it back
  // into BLAKE3 instead, against the index
  const readBack: ManifestEntry[] = [];
  for (const e of withHash) {
    const want = local.get(e.contentId)?.toLowerCase();
    const got = listed.get(e.path)!.hash!;
    if (want === undefined && e.status === "offloaded") readBack.push(e);
    else if (want === undefined)
      out.set(e.path, { path: e.path, ok: false, reason: `no ${algo} of this content could be computed (the local file changed since it was indexed?)` });
    else if (want !== got) {
      out.set(e.path, { path: e.path, ok: false, reason: `content at ${t.dest} differs (${algo} ${got.slice(0, 16)}…, expected ${want.slice(0, 16)}…)` });
      mismatch.add(e.path);
    } else out.set(e.path, { path: e.path, ok: true, method: algo, verifiedAt: at });
  }
  if (readBack.length) await downloadAndHash(t, readBack, ctx, out, mismatch);
}
