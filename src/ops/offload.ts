// The offload workflow: select present files, evaluate the gate offline to pick candidates, then
// per batch ask every required destination live to confirm each file, and unlink only those it did.

import { refused, usageError, failure } from "../kernel/errors.ts";
import { checkVolumeIdentity } from "../kernel/volumes.ts";
import { liveFiles, setFileStatus } from "../kernel/files.ts";
import type { GateRow } from "../kernel/livescan.ts";
import type { ConfirmDepth, ManifestEntry } from "../kernel/plugin.ts";
import { checkpoint } from "../kernel/crash.ts";
import { nowNs } from "../kernel/runtime.ts";
import { parseDuration } from "../kernel/duration.ts";
import { withRun, type OpContext } from "./context.ts";
import { confirmBatch, reachDestinations, type DestinationReport, type Reached } from "./confirm.ts";
import { offloadable, summarise } from "./offload-scan.ts";
import { exampleSelector, normaliseSelector, resolveSelectors } from "./select.ts";
import { verifiedUnlink } from "./unlink.ts";
import { past, tallyOf, type Slice } from "./meter.ts";

export interface OffloadResult {
  run_id: bigint | null;
  volume: string;
  dry_run: boolean;
  /** The depth asked with --confirm, or null (each destination's offload_confirm). */
  confirm: ConfirmDepth | null;
  status: "success" | "partial" | "dry-run";
  /** unconfirmed: kept because a destination did not confirm it live right before the unlink. */
  /** offloadable_bytes: the bytes of the offloadable files (those the gate lets go). */
  counts: { selected: number; offloadable: number; offloadable_bytes: number; offloaded: number; offloaded_bytes: number; refused: number; unconfirmed: number; drift: number; errors: number };
  offloaded: string[];
  /** Dry run only: the files that would go (offloadable, and confirmed live with --confirm), with their sizes (absent when streamed to onWouldOffload). */
  would_offload?: { path: string; size: number }[];
  refusals: { destination: string; code: string; reason: string; hint: string; files: number; examples: string[] }[];
  problems: { path: string; code: string; message: string; destination?: string }[];
  /**
   * Per required destination: asked live (false: a trusted destination that could not be reached,
   * believed from recorded evidence), files confirmed by presence and by content, files it did not confirm.
   */
  destinations: DestinationReport[];
  unmatched: string[];
}

/** Files asked about per confirmation round (HOARD_OFFLOAD_BATCH overrides, for tests). */
function batchSize(): number {
  const n = Number(process.env.HOARD_OFFLOAD_BATCH);
  return Number.isInteger(n) && n > 0 ? n : 1000;
}

const asEntry = (f: GateRow): ManifestEntry => ({ path: f.path, size: Number(f.size), mtimeNs: f.mtime_ns, blake3: f.blake3, contentId: f.content_id, originNode: f.origin_node, originRun: f.origin_run, status: "present" });

/**
 * Offload (or, with dryRun, say what would go). onWouldOffload receives each file a dry run would
 * offload (would_offload is then left out); with listLimit (a summary that shows only the first files),
 * at most that many are listed, and `offloaded` keeps only the first that many paths (counts stay whole).
 */
export async function offload(ctx: OpContext, volume: string, selectors: string[], opts: { olderThan?: string; dryRun?: boolean; confirm?: ConfirmDepth; onWouldOffload?: (f: { path: string; size: number }) => void; listLimit?: number } = {}): Promise<OffloadResult> {
  const vol = ctx.config.volumes[volume];
  if (!vol) throw usageError("unknown_volume", `unknown volume ${volume}`, `known volumes: ${Object.keys(ctx.config.volumes).join(", ") || "none"}`);
  if (vol.offload_requires.length === 0)
    throw refused("no_policy", `refused: volume ${volume} has no offload policy (offload_requires is empty)`, `add offload_requires = ["DEST", …] to [volumes.${volume}] in the config`);
  if (selectors.length === 0) throw usageError("no_selector", "offload needs a selector: paths inside the volume, or . for the whole volume", `e.g. \`hoard offload ${volume} .\` for the whole volume, or a directory or glob inside it`);
  for (const sel of selectors) normaliseSelector(sel); // bad selectors are usage errors before any run starts
  let cutoff: bigint | undefined;
  if (opts.olderThan !== undefined) {
    try {
      cutoff = nowNs() - parseDuration(opts.olderThan);
    } catch {
      throw usageError("bad_duration", `--older-than ${JSON.stringify(opts.olderThan)} is not a duration`, "use e.g. 30d, 12h, 90m");
    }
  }
  const required = vol.offload_requires;
  const result: OffloadResult = {
    run_id: null,
    volume,
    dry_run: !!opts.dryRun,
    confirm: opts.confirm ?? null,
    status: opts.dryRun ? "dry-run" : "success",
    counts: { selected: 0, offloadable: 0, offloadable_bytes: 0, offloaded: 0, offloaded_bytes: 0, refused: 0, unconfirmed: 0, drift: 0, errors: 0 },
    offloaded: [],
    refusals: [],
    problems: [],
    destinations: [],
    unmatched: [],
  };

  /** Kept files of one batch, as problems. */
  const keep = (f: GateRow, k: { destination: string; reason: string }) => {
    result.counts.unconfirmed++;
    result.problems.push({ path: f.path, code: "unconfirmed", destination: k.destination, message: `${k.destination} did not confirm it: ${k.reason}` });
  };
  const stop = (files: GateRow[], why: string) => {
    for (const f of files) {
      result.counts.unconfirmed++;
      result.problems.push({ path: f.path, code: "unconfirmed", message: `not offloaded: the offload stopped (${why})` });
    }
  };
  const scan = (into: OffloadResult) => offloadable(ctx, { volume, selectors, required, cutoff, size: batchSize(), withHash: !opts.dryRun || !!opts.confirm }, into);
  /** The offloadable files and bytes (a first pass without keeping anything: the totals of the progress). */
  const totals = async () => {
    const t: OffloadResult = { ...result, counts: { selected: 0, offloadable: 0, offloadable_bytes: 0, offloaded: 0, offloaded_bytes: 0, refused: 0, unconfirmed: 0, drift: 0, errors: 0 } };
    for await (const _ of scan(t));
    return { files: t.counts.offloadable, bytes: t.counts.offloadable_bytes };
  };

  if (opts.dryRun) {
    const root = checkVolumeIdentity(ctx.db, ctx.config.volumes, volume);
    const sink = opts.onWouldOffload ?? ((f: { path: string; size: number }) => (result.would_offload ??= []).push(f));
    let listed = 0;
    const would = (f: { path: string; size: number }) => void ((opts.listLimit === undefined || listed++ < opts.listLimit) && sink(f));
    if (!opts.onWouldOffload) result.would_offload = [];
    // the whole volume, listing only the first files: counted by class, the rows read only as far as needed
    if (opts.listLimit !== undefined && !opts.confirm && cutoff === undefined && selectors.length === 1 && normaliseSelector(selectors[0]!) === ".") {
      await summarise(ctx, { volume, required, list: opts.listLimit }, result, would);
      return result;
    }
    let reached: Reached[] | undefined;
    let at: Slice | undefined;
    let stopped: string | undefined;
    for await (const batch of scan(result)) {
      // with --confirm, a dry run also asks the destinations live (recording nothing, deleting nothing)
      let kept: Map<string, { destination: string; reason: string }> | undefined;
      if (opts.confirm && stopped === undefined) {
        if (!reached) {
          const t = await totals();
          at = { done: 0, bytes: 0, total: t.files, totalBytes: t.bytes };
          reached = await reachDestinations(ctx, volume, required, result.destinations);
        }
        const v = await confirmBatch(ctx, { volume, root, runId: 0n, record: false, override: opts.confirm, at }, reached, batch.map(asEntry));
        at = at && past(at, batch);
        stopped = v.stopped;
        kept = v.kept;
      }
      if (stopped !== undefined) {
        stop(batch, stopped);
        continue;
      }
      for (const f of batch) {
        const k = kept?.get(f.path);
        if (k) keep(f, k);
        else would({ path: f.path, size: Number(f.size) });
      }
    }
    return result;
  }

  const out = await withRun(
    ctx,
    { kind: "offload", volume, touches: required },
    () => checkVolumeIdentity(ctx.db, ctx.config.volumes, volume),
    async (run, root) => {
      result.run_id = run.id;
      let stopped: string | undefined;
      let reached: Reached[] | undefined;
      let at: Slice | undefined;
      let unlinks: ReturnType<typeof tallyOf> | undefined;
      let first = true;
      for await (const batch of scan(result)) {
        if (stopped !== undefined) {
          stop(batch, stopped);
          continue;
        }
        if (!reached) {
          const t = await totals();
          at = { done: 0, bytes: 0, total: t.files, totalBytes: t.bytes };
          unlinks = tallyOf(ctx.progress, "offload", t.files, t.bytes);
          reached = await reachDestinations(ctx, volume, required, result.destinations);
        }
        if (!first) checkpoint("offload.batch");
        first = false;
        const v = await confirmBatch(ctx, { volume, root, runId: run.id, record: true, override: opts.confirm, at }, reached, batch.map(asEntry));
        at = at && past(at, batch);
        if (v.stopped) {
          stopped = v.stopped;
          stop(batch, stopped);
          continue;
        }
        for (const f of batch) {
          const k = v.kept.get(f.path);
          if (k) {
            keep(f, k);
            continue;
          }
          const r = await verifiedUnlink(root, f.path, { size: Number(f.size), mtimeNs: f.mtime_ns, blake3: f.blake3 });
          // test hook (test/e2e crash test only): die between the unlink and the row flip, like a power cut
          if (r.ok && process.env.HOARD_TEST_CRASH_AFTER_UNLINK === "1") process.kill(process.pid, "SIGKILL");
          if (r.ok) checkpoint("offload.unlink");
          if (r.ok) {
            if (!setFileStatus(ctx.db, f.id, "present", "offloaded", run.id)) throw failure("row_changed", `the index row of ${f.path} changed during offload`);
            result.counts.offloaded++;
            result.counts.offloaded_bytes += Number(f.size);
            if (opts.listLimit === undefined || result.offloaded.length < opts.listLimit) result.offloaded.push(f.path);
          } else {
            if (r.code === "drift") result.counts.drift++;
            else result.counts.errors++;
            result.problems.push({ path: f.path, code: r.code, message: r.message });
          }
          unlinks!.step(f);
        }
      }
      // a refusal because a destination's last check of the file failed is a standing problem there
      const failedChecks = result.refusals.some((g) => g.code === "last_check_failed");
      const bad = result.counts.unconfirmed + result.counts.drift + result.counts.errors;
      const status = bad > 0 || failedChecks ? "partial" : "success";
      result.status = status;
      const why = [
        bad ? `${bad} files were not offloaded (not confirmed live, changed or unsafe)` : "",
        failedChecks ? "some files' last check at a required destination failed" : "",
        stopped ? `stopped: ${stopped}` : "",
      ].filter(Boolean);
      return { status, counts: result.counts, result, error: why.length ? why.join("; ") : undefined };
    },
  );
  return out.result;
}

/**
 * The selectors of `offload VOLUME PATH…`, resolved as everywhere; a volume with required destinations
 * needs at least one (". for the whole volume"), so nothing goes by omission.
 */
export function offloadSelectors(ctx: OpContext, volume: string, words: readonly string[]): string[] {
  const selectors = resolveSelectors(words, ctx.config.volumes[volume]?.path);
  if (selectors.length === 0 && ctx.config.volumes[volume]?.offload_requires.length) {
    const eg = exampleSelector(liveFiles(ctx.db, volume).filter((f) => f.status === "present").map((f) => f.path));
    throw usageError("no_selector", "offload needs a selector: paths inside the volume (relative to the current directory inside it, else to its root), globs, or . for the whole volume", `e.g. \`hoard offload ${volume} .\`${eg !== "." ? ` or \`hoard offload ${volume} ${eg}\`` : ""} (add --dry-run to see first)`);
  }
  return selectors;
}
