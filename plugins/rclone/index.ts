// Built-in destination `rclone`: any rclone remote (SFTP, S3, B2, WebDAV, crypt, a local path).
// Evidence comes only from a listing compared with cached digests, or BLAKE3 of bytes read back.

import { availableParallelism } from "node:os";
import type { Capabilities, ConfirmDepth, DestinationHandler, HandlerContext, ManifestEntry, OpenContext, Plugin, PluginApi } from "hoard/plugin";
import { rcloneCatalogs } from "./catalogs.ts";
import { confirmEntries } from "./confirm.ts";
import { preflight, type Preflight } from "./features.ts";
import { identify, init } from "./identity.ts";
import { standardLocalPath, standardPath } from "./names.ts";
import { joinRemote, optionsSchema, type RcloneOptions } from "./options.ts";
import { push, receiptsFor, startEarly, type Early } from "./push.ts";
import { Rclone } from "./run.ts";
import { verifyEntries } from "./verify.ts";
import type { Target } from "./listing.ts";

/**
 * On a local-path destination, objects this large are read back into BLAKE3 rather than hashed by
 * rclone (see Target.streamMin): past it a process per object costs less than the hash it saves.
 */
export const STREAM_MIN = 32 * 1024 * 1024;

/** Concurrent hashing listings where the backend hashes by reading: one per core, at most 4 (and no more than `checkers`). */
const hashJobs = (checkers?: number): number => Math.max(1, Math.min(4, availableParallelism(), checkers ?? 4));

export function openRclone(api: PluginApi, opts: RcloneOptions, octx: OpenContext): DestinationHandler {
  const { failure } = api.util.errors;
  const rc = new Rclone(api, opts, octx.env);
  const dest = octx.name;
  const remote = opts.remote;
  const verifyMode = opts.verify ?? "hash";
  let pre: Promise<Preflight> | undefined;
  const plan = () => {
    // one preflight per handler; a failed one is retried next time
    pre ??= preflight(rc, remote, dest, verifyMode, failure).catch((e) => {
      pre = undefined;
      throw e;
    });
    return pre;
  };
  const target = (ctx: { volume: string }, p?: Preflight): Target => ({
    rc,
    dest,
    volumeDir: joinRemote(remote, standardPath(ctx.volume)),
    checkers: opts.checkers,
    hashJobs: p?.slowHash ? hashJobs(opts.checkers) : 1,
    stateDir: octx.stateDir,
    streamMin: p?.isLocal && p.plan.mode === "hash" ? STREAM_MIN : undefined,
    local: p?.isLocal === true,
  });
  // listings started by warm(), taken by the push of that volume (one never taken is killed at exit)
  const warmed = new Map<string, { early: Early; abort: AbortController }>();
  const takeWarm = (ctx: HandlerContext) => {
    const w = warmed.get(ctx.volume);
    if (!w) return undefined;
    warmed.delete(ctx.volume);
    if (ctx.signal.aborted) w.abort.abort();
    else ctx.signal.addEventListener("abort", () => w.abort.abort(), { once: true });
    return w.early;
  };

  return {
    async capabilities(): Promise<Capabilities> {
      const p = await plan();
      const stream = p.isLocal && p.plan.mode === "hash";
      return {
        methods: stream && p.plan.method !== "blake3" ? [p.plan.method, "blake3"] : [p.plan.method],
        warnings: [...p.warnings],
        facts: { rclone_version: p.version, hashes: p.hashes, chosen: p.plan.method, verify: p.plan.mode, remote, ...(stream ? { read_back_from_bytes: STREAM_MIN } : {}) },
      };
    },
    init: () => init(api, rc, remote, dest),
    identify: () => {
      // a run asks for the plan next: start rclone's version and features now, alongside (a
      // failure is reported when the plan is asked for, and retried then)
      plan().catch(() => {});
      return identify(api, rc, remote, dest);
    },
    warm(volume: string) {
      plan().catch(() => {});
      if (warmed.has(volume)) return;
      const abort = new AbortController();
      // read-only: the receipts, if any, and the listing they are checked against (a failure here
      // only means the push does without them)
      const e = startEarly(target({ volume }), remote, volume, { signal: abort.signal, now: api.util.nowNs });
      const early: Early = { receipts: e.receipts.catch(() => undefined), listing: e.listing.catch(() => undefined) };
      warmed.set(volume, { early, abort });
    },
    async push(manifest: ManifestEntry[], ctx: HandlerContext) {
      const warm = takeWarm(ctx);
      const p = await plan();
      return push(target(ctx, p), p, remote, manifest, ctx, warm);
    },
    async verify(manifest: ManifestEntry[], ctx: HandlerContext) {
      const p = await plan();
      if (p.plan.mode === "size") ctx.warn(p.warnings[0]!);
      const t = target(ctx, p);
      // verify never accepts a receipt: it checks everything again and refreshes them
      const receipts = await receiptsFor(t, p, remote, ctx);
      const { outcomes, complete } = await verifyEntries(t, p.plan, manifest, ctx, { receipts });
      if (complete && !ctx.signal.aborted) await receipts?.save(new Set(manifest.map((e) => standardPath(e.path))));
      return manifest.map((e) => outcomes.get(e.path) ?? { path: e.path, ok: false as const, reason: "not verified" });
    },
    async confirm(entries: ManifestEntry[], ctx: HandlerContext, depth: ConfirmDepth) {
      // live proof before local copies are deleted: asks the destination, never a receipt
      const p = await plan();
      return confirmEntries(target(ctx, p), p.plan, entries, ctx, depth);
    },
    async fetch(entry: ManifestEntry, targetPath: string, ctx: HandlerContext) {
      const src = joinRemote(target(ctx).volumeDir, standardPath(entry.path));
      const local = targetPath.startsWith("/") ? standardLocalPath(targetPath) : `./${standardLocalPath(targetPath)}`;
      const r = await rc.run(["copyto", src, local, "--no-traverse", ...(ctx.bwlimit ? ["--bwlimit", ctx.bwlimit] : [])], { signal: ctx.signal });
      if (ctx.signal.aborted) throw failure("aborted", `${dest}: fetching ${entry.path} was aborted`);
      if (r.code !== 0) {
        const notFound = r.code === 3 || r.code === 4;
        throw failure(
          notFound ? "dest_file_missing" : "rclone_fetch_failed",
          `${dest}: cannot fetch ${entry.path}: ${notFound ? "it is missing at the destination; " : ""}${rc.describeFailure("copyto", r)}`,
          notFound ? `verify ${dest} to see what else is missing, and restore from another destination` : "check that the remote is reachable and try again",
        );
      }
    },
    ...rcloneCatalogs(api, rc, remote, dest, octx.stateDir),
  };
}

const plugin: Plugin = {
  name: "rclone",
  apiVersion: 1,
  setup(api) {
    api.destination({
      name: "rclone",
      schema: optionsSchema(api),
      open: (options, octx) => openRclone(api, options, octx),
    });
  },
};
export default plugin;
