// Verification shared by push() and verify(): `rclone lsjson` listings compared with the manifest
// (stored hash vs cached digest, or size), or BLAKE3 of bytes read back in bounded download batches.

import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { FileOutcome, HandlerContext, ManifestEntry } from "../../src/kernel/plugin.ts";
import type { HashAlgo, Plan } from "./features.ts";
import { CopyLog } from "./log.ts";
import { rcloneCanAddress, standardLocalPath, standardPath } from "./names.ts";
import { receiptTime, scopeOf, type Receipt, type Receipts } from "./receipts.ts";
import { joinRemote } from "./options.ts";
import type { Rclone } from "./run.ts";

export interface Target {
  rc: Rclone;
  /** Destination name from config (for messages). */
  dest: string;
  /** The rclone path of the volume at the destination: <remote>/<volume>. */
  volumeDir: string;
  checkers?: number;
  /**
   * How many `lsjson --hash` processes may hash at once. rclone hashes the objects of one
   * listing one after another; where hashing reads the data (local, sftp) it is CPU- or
   * round-trip-bound, so disjoint halves of the list are hashed side by side.
   */
  hashJobs?: number;
  /** A private local directory (download batches are written under it). */
  stateDir: string;
  /**
   * Under a hash plan, objects of at least this many bytes are checked by streaming them back
   * (`rclone cat`) into BLAKE3 instead of comparing a hash the destination computes. Set where
   * the destination is this machine's file system: computing a hash there reads every byte
   * anyway, so reading them through rclone into hoard's own BLAKE3 costs less CPU and proves
   * the index's digest itself (method blake3), with no secondary digest in between.
   */
  streamMin?: number;
  /**
   * The destination is this machine's file system (rclone's local backend, features IsLocal): its
   * listing is a real lstat of each object. Anything else may list from a cache (a server's
   * directory cache), so a live confirmation also reads each object (see readable.ts).
   */
  local?: boolean;
}

/** Whether an entry is checked by streaming it back (see Target.streamMin). */
export const streamed = (t: Target, e: ManifestEntry): boolean => t.streamMin !== undefined && e.size >= t.streamMin;

/** The method an entry is verified with under this plan (a streamed entry: blake3). */
export const methodFor = (t: Target, plan: Plan, e: ManifestEntry): string => (plan.mode === "hash" && streamed(t, e) ? "blake3" : plan.method);

export interface Listed {
  size: number;
  hash?: string;
  modtime?: string;
}

export type Listing = { ok: true; files: Map<string, Listed>; at: bigint } | { ok: false; reason: string; missing: boolean };

/** hoard's reserved names at a volume root are never part of a listing. */
const RESERVED_FILTERS = ["--exclude", "/.hoard-volume", "--exclude", "/.hoard/**"];

export const checkerArgs = (t: Target): string[] => (t.checkers ? ["--checkers", String(t.checkers)] : []);

/** A --files-from-raw list: rclone standard names, which never contain "\n" or "\r". */
export const filesFromRaw = (entries: ManifestEntry[]): string => entries.map((e) => standardPath(e.path)).join("\n") + "\n";

/**
 * One recursive listing of the volume directory. With `only`, only those paths are looked up
 * (--files-from-raw); otherwise the whole tree minus hoard's reserved names. The exit code is
 * checked before stdout is trusted: rclone may print "[" and then fail.
 */
export async function listVolume(t: Target, ctx: Pick<HandlerContext, "signal" | "now">, o: { hash?: HashAlgo; modtime: boolean; only?: ManifestEntry[] }): Promise<Listing> {
  const args = ["lsjson", "-R", "--files-only", "--no-mimetype", "--fast-list", ...checkerArgs(t)];
  if (!o.modtime) args.push("--no-modtime");
  if (o.hash) args.push("--hash", "--hash-type", o.hash);
  // names rclone cannot open are never asked for (they are reported missing, with the reason)
  const only = o.only?.filter((e) => rcloneCanAddress(e.path));
  if (only) args.push("--files-from-raw", "-");
  else args.push(...RESERVED_FILTERS);
  args.push(t.volumeDir);
  const at = ctx.now();
  const r = await t.rc.run(args, { signal: ctx.signal, stdin: only ? filesFromRaw(only) : undefined, stdoutToFile: true });
  if (ctx.signal.aborted) return { ok: false, reason: "aborted before the destination listing finished", missing: false };
  if (r.code !== 0) {
    // 3 = directory not found: the volume directory provably does not exist at the destination
    const missing = r.code === 3;
    return { ok: false, missing, reason: missing ? `missing at ${t.dest} (the volume directory does not exist there)` : `${t.dest}: ${t.rc.describeFailure("lsjson", r)}` };
  }
  const files = new Map<string, Listed>();
  const add = (j: any) => {
    if (!j || typeof j.Path !== "string" || j.IsDir) return;
    const h = o.hash && j.Hashes && typeof j.Hashes[o.hash] === "string" && j.Hashes[o.hash] !== "" ? String(j.Hashes[o.hash]).toLowerCase() : undefined;
    const modtime = typeof j.ModTime === "string" && j.ModTime !== "" ? j.ModTime : undefined;
    files.set(j.Path, { size: typeof j.Size === "number" ? j.Size : -1, hash: h, modtime });
  };
  // the whole output is one JSON array: one parse (fast); line by line only to say what is wrong
  let all: unknown;
  try {
    all = JSON.parse(r.stdout);
  } catch {
    all = undefined;
  }
  if (Array.isArray(all)) {
    for (const j of all) add(j);
    return { ok: true, files, at };
  }
  for (const raw of r.stdout.split("\n")) {
    let line = raw.trim();
    if (line === "" || line === "[" || line === "]") continue;
    if (line.endsWith(",")) line = line.slice(0, -1);
    let j: any;
    try {
      j = JSON.parse(line);
    } catch {
      return { ok: false, missing: false, reason: `${t.dest}: rclone lsjson printed a line that is not JSON: ${t.rc.redact(line.slice(0, 120))}` };
    }
    add(j);
  }
  return { ok: true, files, at };
}

/**
 * The listing with hashes of exactly these entries, split by bytes into up to t.hashJobs
 * concurrent `lsjson --hash --files-from-raw` runs. Each object is hashed once, by one run; the
 * time is the earliest start, and any failed run fails the whole listing (the exit code of every
 * run is checked before its output is used).
 */
export async function listHashed(t: Target, ctx: HandlerContext, hash: HashAlgo, all: ManifestEntry[]): Promise<Listing> {
  // entries checked by streaming need no hash from the destination: listed alongside, without
  const plain = all.filter((e) => streamed(t, e));
  if (plain.length === 0) return listHashedOnly(t, ctx, hash, all);
  const hashed = all.filter((e) => !streamed(t, e));
  const parts = await Promise.all([listVolume(t, ctx, { modtime: true, only: plain }), ...(hashed.length ? [listHashedOnly(t, ctx, hash, hashed)] : [])]);
  return mergeListings(parts);
}

/** One listing from several of disjoint entries: any failure fails it; the time is the earliest start. */
function mergeListings(parts: Listing[]): Listing {
  const failed = parts.filter((p) => !p.ok) as Extract<Listing, { ok: false }>[];
  if (failed.length) return failed.find((f) => !f.missing) ?? failed[0]!;
  const files = new Map<string, Listed>();
  let at: bigint | undefined;
  for (const p of parts as Extract<Listing, { ok: true }>[]) {
    for (const [k, v] of p.files) files.set(k, v);
    if (at === undefined || p.at < at) at = p.at;
  }
  return { ok: true, files, at: at! };
}

async function listHashedOnly(t: Target, ctx: HandlerContext, hash: HashAlgo, entries: ManifestEntry[]): Promise<Listing> {
  const jobs = Math.max(1, Math.min(t.hashJobs ?? 1, entries.length));
  if (jobs === 1) return listVolume(t, ctx, { hash, modtime: true, only: entries });
  // largest first into the lightest group (a few big files spread evenly)
  const groups: { bytes: number; entries: ManifestEntry[] }[] = Array.from({ length: jobs }, () => ({ bytes: 0, entries: [] }));
  for (const e of [...entries].sort((a, b) => b.size - a.size)) {
    let g = groups[0]!;
    for (const x of groups) if (x.bytes < g.bytes || (x.bytes === g.bytes && x.entries.length < g.entries.length)) g = x;
    g.entries.push(e);
    g.bytes += e.size;
  }
  return mergeListings(await Promise.all(groups.filter((g) => g.entries.length).map((g) => listVolume(t, ctx, { hash, modtime: true, only: g.entries }))));
}

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

/**
 * The outcome of one object read back (streamed or downloaded): its byte count, then its BLAKE3,
 * against the index; a differing digest is a content mismatch (push copies such a file again).
 */
async function judgeReadBack(t: Target, e: ManifestEntry, bytes: number, digest: () => string | Promise<string>, at: bigint, out: Map<string, FileOutcome>, mismatch: Set<string>): Promise<void> {
  if (bytes !== e.size) {
    out.set(e.path, { path: e.path, ok: false, reason: `read back ${bytes} bytes from ${t.dest}, expected ${e.size}` });
    return;
  }
  const got = await digest();
  if (got !== e.blake3.toLowerCase()) {
    out.set(e.path, { path: e.path, ok: false, reason: `content read back from ${t.dest} differs (BLAKE3 ${got.slice(0, 16)}…, expected ${e.blake3.slice(0, 16)}…)` });
    mismatch.add(e.path);
  } else out.set(e.path, { path: e.path, ok: true, method: "blake3", verifiedAt: at });
}

/** How many objects are streamed back at once. */
const STREAM_JOBS = 2;

/**
 * Stream each object back (`rclone cat`, one process per object: used for large objects only)
 * into BLAKE3 and compare with the index. The exit code, the byte count and the digest must all
 * agree; the outcome's time is when its read began.
 */
export async function streamAndHash(t: Target, cands: ManifestEntry[], ctx: HandlerContext, out: Map<string, FileOutcome>, mismatch: Set<string>, unread?: Set<string>) {
  const total = cands.length;
  const totalBytes = cands.reduce((s, e) => s + e.size, 0);
  let done = 0;
  let doneBytes = 0;
  let next = 0;
  const one = async (e: ManifestEntry) => {
    const h = ctx.blake3Stream();
    let bytes = 0;
    const at = ctx.now();
    const r = await t.rc.run(["cat", joinRemote(t.volumeDir, standardPath(e.path))], {
      signal: ctx.signal,
      onStdoutData: (c) => {
        h.update(c);
        bytes += c.byteLength;
      },
    });
    if (ctx.signal.aborted) return out.set(e.path, { path: e.path, ok: false, reason: "aborted before it was read back" });
    if (r.code !== 0) {
      unread?.add(e.path);
      return out.set(e.path, { path: e.path, ok: false, reason: `could not read it back from ${t.dest}: ${t.rc.describeFailure("cat", r)}` });
    }
    await judgeReadBack(t, e, bytes, () => h.digestHex(), at, out, mismatch);
  };
  const worker = async () => {
    while (next < cands.length) {
      const e = cands[next++]!;
      if (ctx.signal.aborted) out.set(e.path, { path: e.path, ok: false, reason: "aborted before it was read back" });
      else await one(e);
      done++;
      doneBytes += e.size;
      ctx.progress({ phase: "read back", done, total, bytes: doneBytes, totalBytes, current: e.path });
    }
  };
  await Promise.all(Array.from({ length: Math.min(STREAM_JOBS, cands.length) }, worker));
}

/** Bytes per download batch (a single larger file is its own batch) and files per batch. */
const BATCH_BYTES = 256 * 1024 * 1024;
const BATCH_FILES = 2000;

/**
 * Read files back: copy a batch into a private temp directory with `rclone copy --files-from-raw`,
 * BLAKE3 each file, delete it. Disk use stays bounded by one batch.
 */
export async function downloadAndHash(t: Target, cands: ManifestEntry[], ctx: HandlerContext, out: Map<string, FileOutcome>, mismatch: Set<string>, unread?: Set<string>) {
  if (cands.length === 0) return;
  const batches: ManifestEntry[][] = [];
  let cur: ManifestEntry[] = [];
  let bytes = 0;
  for (const e of cands) {
    if (cur.length && (bytes + e.size > BATCH_BYTES || cur.length >= BATCH_FILES)) {
      batches.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(e);
    bytes += e.size;
  }
  if (cur.length) batches.push(cur);
  const total = cands.length;
  const totalBytes = cands.reduce((s, e) => s + e.size, 0);
  let done = 0;
  let doneBytes = 0;
  await mkdir(t.stateDir, { recursive: true });
  for (const batch of batches) {
    if (ctx.signal.aborted) {
      for (const e of batch) out.set(e.path, { path: e.path, ok: false, reason: "aborted before it was read back" });
      continue;
    }
    const dir = await mkdtemp(join(t.stateDir, "download-"));
    try {
      const at = ctx.now();
      const log = new CopyLog({ debug: (m) => ctx.log.debug(t.rc.redact(m)) });
      const r = await t.rc.run(
        ["copy", t.volumeDir, standardLocalPath(dir), "--files-from-raw", "-", "--no-traverse", "--use-json-log", "-v", ...checkerArgs(t)],
        { stdin: filesFromRaw(batch), signal: ctx.signal, onStderrLine: (l) => log.line(l) },
      );
      const errors = log.objectErrors(r.code);
      const failed = r.code !== 0 ? t.rc.describeFailure("copy (read back)", r) : "";
      for (const e of batch) {
        const p = join(dir, ...e.path.split("/"));
        const st = await stat(p).catch(() => undefined);
        if (ctx.signal.aborted) out.set(e.path, { path: e.path, ok: false, reason: "aborted before it was read back" });
        else if (!st || !st.isFile()) {
          const err = errors.get(standardPath(e.path));
          unread?.add(e.path);
          out.set(e.path, { path: e.path, ok: false, reason: `could not read it back from ${t.dest}: ${t.rc.redact(err ?? (failed || "rclone did not download it"))}` });
        } else await judgeReadBack(t, e, st.size, () => ctx.blake3File(p), at, out, mismatch);
        await rm(p, { force: true });
        done++;
        doneBytes += e.size;
        ctx.progress({ phase: "download", done, total, bytes: doneBytes, totalBytes, current: e.path });
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
