// Listing a volume at an rclone destination: `rclone lsjson` of the whole tree or of named entries,
// with modtimes and hashes on request, split into concurrent hashing runs and merged into one listing.

import type { HandlerContext, ManifestEntry } from "../../src/kernel/plugin.ts";
import type { HashAlgo, Plan } from "./features.ts";
import { rcloneCanAddress, standardPath } from "./names.ts";
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
