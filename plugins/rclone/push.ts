// push(): `rclone copy` of exactly the manifest's present files (--files-from-raw on stdin, old
// versions kept under --backup-dir), streamed log parsing, then verification by listing or download.
//
// Where receipts are kept, a cheap listing (no hashes) comes first: an object whose size and
// modtime still equal its receipt (under the kernel's receipt scope) for the manifest's content
// is accepted on that receipt (`unchanged`, with the receipt's time capped at now) and is neither
// copied nor hashed again; an entry marked `recheck` never is. Everything else is copied (the
// local digests are computed meanwhile) and then hashed at the destination.

import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { FileOutcome, HandlerContext, ManifestEntry } from "../../src/kernel/plugin.ts";
import { sizeOnlyWarning, useReceipts, type Preflight } from "./features.ts";
import { CopyLog, type RcloneStats } from "./log.ts";
import { rcloneCanAddress, standardLocalPath, standardPath } from "./names.ts";
import { joinRemote } from "./options.ts";
import { Receipts, scopeOf } from "./receipts.ts";
import { checkerArgs, filesFromRaw, listVolume, methodFor, type Listing, type Target } from "./listing.ts";
import { onReceipt, prefetchDigests, receiptHolds } from "./compare.ts";
import { verifyEntries } from "./verify.ts";

interface CopyResult {
  log: CopyLog;
  code: number | null;
  /** Why the copy did not finish cleanly (redacted), or undefined. */
  failure?: string;
}

async function copy(t: Target, entries: ManifestEntry[], ctx: HandlerContext, extra: string[], o: { inPlace?: boolean } = {}): Promise<CopyResult> {
  const backupDir = joinRemote(t.volumeDir, `.hoard/history/run-${ctx.runId}`);
  const totalFiles = entries.length;
  const log = new CopyLog({
    progress: (s: RcloneStats) =>
      ctx.progress({
        phase: "push",
        done: (s.transfers ?? 0) + (s.checks ?? 0),
        total: Math.max(totalFiles, (s.totalTransfers ?? 0) + (s.totalChecks ?? 0)),
        bytes: s.bytes,
        totalBytes: s.totalBytes,
      }),
    warn: (m) => ctx.warn(t.rc.redact(m)),
    debug: (m) => ctx.log.debug(t.rc.redact(m)),
  });
  const args = [
    "copy",
    standardLocalPath(ctx.volumeRoot),
    t.volumeDir,
    // exactly the manifest's present files: nothing added after indexing, no reserved names
    "--files-from-raw",
    "-",
    // nothing is ever deleted or overwritten in place at the destination (except, with inPlace,
    // an object whose bytes cannot be read: it holds nothing to keep)
    ...(o.inPlace ? [] : ["--backup-dir", backupDir]),
    "--use-json-log",
    "-v",
    "--stats",
    "1s",
    ...checkerArgs(t),
    // the user's limit for this run (--bwlimit), in rclone's own syntax (checked by the kernel)
    ...(ctx.bwlimit ? ["--bwlimit", ctx.bwlimit] : []),
    ...extra,
  ];
  const r = await t.rc.run(args, { stdin: filesFromRaw(entries), signal: ctx.signal, onStderrLine: (l) => log.line(l) });
  const failure = r.code === 0 ? undefined : t.rc.describeFailure("copy", r);
  return { log, code: r.code, failure };
}

/** Local files whose size or mtime no longer match the manifest (changed after indexing). */
async function changedLocally(root: string, e: ManifestEntry): Promise<boolean> {
  try {
    const st = await stat(join(root, ...e.path.split("/")), { bigint: true });
    return Number(st.size) !== e.size || st.mtimeNs !== e.mtimeNs;
  } catch {
    return true;
  }
}

/**
 * Receipts for this volume when the plan benefits from them (see useReceipts) and the context has
 * a receipt scope; every receipt stamped with another scope is discarded.
 */
export async function receiptsFor(t: Target, pre: Preflight, remote: string, ctx: HandlerContext, loaded?: Receipts): Promise<Receipts | undefined> {
  const scope = scopeOf(ctx);
  if (!useReceipts(pre)) return undefined;
  if (scope === undefined) {
    ctx.log.debug(`${t.dest}: no receipt scope given; no receipt is used or kept in this run`);
    return undefined;
  }
  const r = loaded ?? (await Receipts.load(t.stateDir, remote, ctx.volume));
  r.keepScope(scope);
  return r;
}

/**
 * Accept on their receipts the entries whose object, in a fresh listing taken now, still has
 * the size and modtime of a receipt for the manifest's content and method. Returns those
 * outcomes and the entries left to copy and check, or undefined when the listing failed (then
 * everything is copied and checked as if there were no receipts).
 */
function settleOnReceipts(t: Target, pre: Preflight, manifest: ManifestEntry[], receipts: Receipts, listing: Listing, ctx: HandlerContext) {
  if (!listing.ok) {
    if (!listing.missing) ctx.log.debug(`${t.dest}: listing before the copy failed (${listing.reason}); checking everything after it`);
    return undefined;
  }
  /** Aligned with the manifest: the receipt's outcome, or undefined for an entry left to check. */
  const settled: (FileOutcome | undefined)[] = new Array(manifest.length);
  const rest: ManifestEntry[] = [];
  const scope = scopeOf(ctx);
  const now = ctx.now();
  for (let i = 0; i < manifest.length; i++) {
    const e = manifest[i]!;
    const std = standardPath(e.path);
    const r = receipts.get(std);
    const f = r && listing.files.get(std);
    if (r && f && receiptHolds(r, f, e, methodFor(t, pre.plan, e), scope)) settled[i] = onReceipt(e, r, now);
    else rest.push(e);
  }
  return { settled, rest };
}

/** Read-only work a push can begin before it is called: the receipts and the listing they are checked against. */
export interface Early {
  receipts: Promise<Receipts | undefined>;
  listing: Promise<Listing | undefined>;
}

/**
 * Where receipts were kept, load them and take the listing (modtimes, no hashes) they are checked
 * against, side by side; so this can begin before the push itself, while hoard checks identities
 * and reads its manifest. Both undefined when there are no receipts.
 */
export function startEarly(t: Target, remote: string, volume: string, ctx: Pick<HandlerContext, "signal" | "now">): Early {
  const exists = ctx.signal.aborted ? Promise.resolve(false) : Receipts.exist(t.stateDir, remote, volume);
  return {
    receipts: exists.then((ok) => (ok ? Receipts.load(t.stateDir, remote, volume) : undefined)),
    listing: exists.then((ok) => (ok && !ctx.signal.aborted ? listVolume(t, ctx, { modtime: true }) : undefined)),
  };
}

export async function push(t: Target, pre: Preflight, remote: string, manifest: ManifestEntry[], ctx: HandlerContext, warmed?: Early): Promise<FileOutcome[]> {
  const plan = pre.plan;
  if (plan.mode === "size") ctx.warn(sizeOnlyWarning(t.dest));
  // receipts and the early listing: started by warm(), or now
  // (none without a receipt scope: then nothing is accepted on a receipt, nor written)
  const early = useReceipts(pre) && scopeOf(ctx) !== undefined ? (warmed ?? startEarly(t, remote, ctx.volume, ctx)) : undefined;
  const receipts = early ? await receiptsFor(t, pre, remote, ctx, await early.receipts) : undefined;
  const listing = await early?.listing;
  const settledEarly = listing && receipts && receipts.size > 0 && !ctx.signal.aborted ? settleOnReceipts(t, pre, manifest, receipts, listing, ctx) : undefined;
  // what is left to copy and check: everything, unless receipts settled some of it
  const todo = settledEarly ? settledEarly.rest : manifest;
  const present = todo.filter((e) => e.status === "present");
  const transferred = new Set<string>();
  const copyErrors = new Map<string, string>();
  let copyFailed = false;
  // rclone's own post-copy checksum (it reads source and destination once more) is redundant
  // where the listing or read-back afterwards checks every file's content against the index;
  // a size-only plan keeps it, as it is then the only content check there is
  const copyExtra = plan.mode === "size" ? [] : ["--ignore-checksum"];
  // the local digests the listing is compared with are computed while rclone copies
  const digests = ctx.signal.aborted ? undefined : prefetchDigests(t, plan, todo, ctx);

  // names rclone cannot open would only fail (and make rclone retry the whole copy): leave them
  // out; verification reports them as missing, with the reason
  const toCopy = present.filter((e) => rcloneCanAddress(e.path));
  if (toCopy.length && !ctx.signal.aborted) {
    const c = await copy(t, toCopy, ctx, copyExtra);
    for (const o of c.log.transferred) transferred.add(o);
    for (const [o, m] of c.log.objectErrors(c.code)) copyErrors.set(o, t.rc.redact(m));
    if (c.failure) {
      copyFailed = true;
      if (!ctx.signal.aborted) ctx.warn(`${t.dest}: ${c.failure}; only files the verification proves are counted`);
    }
  }
  if (ctx.signal.aborted) return manifest.map((e) => ({ path: e.path, ok: false, reason: "aborted before verification" }));

  // the listing (or read-back) is the evidence, never the copy's exit code. After an early
  // listing, what it did not settle is looked up by name and never accepted on a receipt (its
  // receipt did not hold before the copy); without one, unchanged objects may still be accepted
  const verified = settledEarly
    ? await verifyEntries(t, plan, todo, ctx, { receipts, only: true, transferred, digests })
    : await verifyEntries(t, plan, manifest, ctx, { receipts, reuse: true, transferred, digests });
  const { outcomes, contentMismatch, unreadable } = verified;
  let complete = verified.complete;

  // a copy error stands against its file even if an older copy there happens to match
  for (const e of present) {
    const err = copyErrors.get(standardPath(e.path));
    const o = outcomes.get(e.path);
    if (err === undefined || !o) continue;
    const missing = !o.ok && o.missing === true;
    outcomes.set(e.path, { path: e.path, ok: false, reason: `rclone reported an error copying it: ${err}`, ...(missing ? { missing } : {}) });
  }

  // repair: after a clean copy, a destination file with the right size but different content was
  // skipped by rclone's size/mtime check; copy it again with --ignore-times (the old one goes to
  // --backup-dir) and verify it again. One listed with the right size whose bytes cannot be read
  // (e.g. deleted behind a server that lists from its directory cache) holds nothing to keep: it is
  // copied again in place (moving it aside would fail, and over \`rclone serve\` a failed move
  // leaves the server's node pointing into the backup dir, where the next write then lands)
  if (!copyFailed && !ctx.signal.aborted) {
    const repair: ManifestEntry[] = [];
    for (const e of present) {
      const o = outcomes.get(e.path);
      if (!o || o.ok || !(contentMismatch.has(e.path) || unreadable.has(e.path))) continue;
      if (await changedLocally(ctx.volumeRoot, e)) {
        outcomes.set(e.path, { ...o, reason: `${o.reason}; the local file changed after it was indexed (index again)` });
        continue;
      }
      repair.push(e);
    }
    const errs = new Map<string, string>();
    const recopy = async (list: ManifestEntry[], what: string, inPlace: boolean) => {
      if (!list.length || ctx.signal.aborted) return;
      ctx.log.info(`${t.dest}: ${list.length} file(s) ${what}; copying them again${inPlace ? " in place" : ""}`);
      const c = await copy(t, list, ctx, ["--ignore-times", ...copyExtra], { inPlace });
      for (const o of c.log.transferred) transferred.add(o);
      for (const [o, m] of c.log.objectErrors(c.code)) errs.set(o, m);
      if (c.failure && !ctx.signal.aborted) ctx.warn(`${t.dest}: ${c.failure}`);
    };
    await recopy(repair.filter((e) => contentMismatch.has(e.path)), "differ at the destination", false);
    await recopy(repair.filter((e) => !contentMismatch.has(e.path)), "are listed at the destination but cannot be read", true);
    if (repair.length) {
      const again = await verifyEntries(t, plan, repair, ctx, { only: true, receipts });
      complete &&= again.complete;
      for (const e of repair) {
        const err = errs.get(standardPath(e.path));
        outcomes.set(e.path, err !== undefined ? { path: e.path, ok: false, reason: `rclone reported an error copying it: ${t.rc.redact(err)}` } : again.outcomes.get(e.path)!);
      }
    }
  }
  // size mismatches are usually a local file that changed after indexing: say so
  for (const e of present) {
    const o = outcomes.get(e.path);
    if (o && !o.ok && !o.missing && !contentMismatch.has(e.path) && /^size at /.test(o.reason) && (await changedLocally(ctx.volumeRoot, e)))
      outcomes.set(e.path, { ...o, reason: `${o.reason}; the local file changed after it was indexed (index again)` });
  }

  // settled entries were accepted on their receipts (never copied); the rest have outcomes by path
  const settled = settledEarly?.settled;
  if (receipts && complete && !ctx.signal.aborted) {
    for (const e of todo) if (!outcomes.get(e.path)?.ok) receipts.delete(standardPath(e.path));
    // receipts of paths that left the manifest are dropped; when every manifest path was settled on
    // its receipt and there are no others, there is nothing to drop
    const nothingToDrop = settled !== undefined && todo.length === 0 && receipts.size === manifest.length;
    await receipts.save(nothingToDrop ? undefined : new Set(manifest.map((e) => standardPath(e.path))));
  }
  return manifest.map((e, i) => {
    const s = settled?.[i];
    if (s) return s;
    const o = outcomes.get(e.path) ?? { path: e.path, ok: false as const, reason: "not verified" };
    return o.ok && transferred.has(standardPath(e.path)) ? { ...o, transferred: true } : o;
  });
}
