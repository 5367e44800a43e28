// Sync and verify: identity checks, preflight hooks, the run gate, the manifest captured before any
// transfer, the handler's push or verify, then per-origin evidence advances and offloaded alarms.

import type { FileOutcome, ManifestEntry, Method } from "../kernel/plugin.ts";
import { HoardError, refused } from "../kernel/errors.ts";
import { checkVolumeIdentity } from "../kernel/volumes.ts";
import { checkDestinationIdentity, pinned } from "../kernel/dest-identity.ts";
import { manifestWithChecks } from "../kernel/manifest-checks.ts";
import { alignOutcomes, computeAdvances, decideComponentWrite, oldestCheckBehind } from "../kernel/evidence.ts";
import { component, refreshVerifiedAt, touchComponent, writeAdvance } from "../kernel/vector.ts";
import { receiptScope, recordObjectOutcomes } from "../kernel/objects.ts";
import { planRechecks, sanitizeOutcomes } from "../kernel/reverify.ts";
import { checkpoint } from "../kernel/crash.ts";
import { acceptedMethods } from "./policy.ts";
import { assertNotTheVolume } from "./confirm.ts";
import { nowNs } from "../kernel/runtime.ts";
import { proofOf } from "../config/schema.ts";
import { clearAlarm, openAlarmPaths, raiseAlarm } from "../kernel/alarms.ts";
import { runInfo, withRun, type OpContext } from "./context.ts";
import { backupReminder } from "./backup.ts";
import { handlerContext, openDestination } from "./dest-open.ts";
import { metered } from "./meter.ts";
import { CATALOG_AFTER, writeCatalog, type CatalogResult } from "../kernel/catalog-write.ts";

export interface CheckResult {
  run_id: bigint | null;
  kind: "sync" | "verify";
  volume: string;
  destination: string;
  status: "success" | "partial" | "failed" | "dry-run";
  /**
   * verified: entries that hold (checked + unchanged + size_only); checked: content compared in this
   * run; unchanged: accepted on a receipt (size and modtime unchanged since an earlier content check;
   * not a verification); size_only: matched by size alone (no content check, never evidence);
   * rechecked: entries picked by rolling re-verification.
   */
  counts: { manifest: number; verified: number; checked: number; unchanged: number; size_only: number; rechecked: number; failed: number; transferred: number; alarms: number; bytes: number };
  evidence: { origin_node: string; origin_run: bigint | null; method: string; result: string; verified_at: bigint | null; blocked?: { origin_run: bigint; path: string; reason: string } }[];
  failures: { path: string; reason: string; offloaded: boolean; missing: boolean }[];
  alarms: { path: string; reason: string }[];
  warnings: string[];
  /** The catalog written at the destination after this run, or the unchanged last one kept (null: none). */
  catalog: CatalogResult | null;
  /**
   * Dry run only: the present files this destination has no successful check of (their current
   * content, its current epoch) on record, so a sync would send them (an estimate from the database).
   */
  would_send?: { files: number; bytes: number; paths: string[] };
}

/** Volumes a destination serves: those listing it in sync_to or offload_requires. */
export function volumesFor(ctx: OpContext, destination: string): string[] {
  return Object.values(ctx.config.volumes)
    .filter((v) => v.sync_to.includes(destination) || v.offload_requires.includes(destination))
    .map((v) => v.name);
}

export async function checkVolume(ctx: OpContext, kind: "sync" | "verify", volume: string, destination: string, opts: { dryRun?: boolean; signal?: AbortSignal; bwlimit?: string } = {}): Promise<CheckResult> {
  const dest = openDestination(ctx, destination);
  // a push follows unless a check refuses: the handler may start read-only work now
  if (kind === "sync" && !opts.dryRun) dest.handler.warm?.(volume);
  // the volume's verified root, for the body
  const checks = async (): Promise<string> => {
    const root = checkVolumeIdentity(ctx.db, ctx.config.volumes, volume);
    await checkDestinationIdentity(ctx.db, destination, dest.handler);
    return root;
  };
  const result: CheckResult = {
    run_id: null,
    kind,
    volume,
    destination,
    status: "success",
    counts: { manifest: 0, verified: 0, checked: 0, unchanged: 0, size_only: 0, rechecked: 0, failed: 0, transferred: 0, alarms: 0, bytes: 0 },
    evidence: [],
    failures: [],
    alarms: [],
    warnings: [],
    catalog: null,
  };
  if (opts.dryRun) {
    await checks();
    const { manifest, checks: records } = manifestWithChecks(ctx.db, destination, volume);
    result.status = "dry-run";
    result.counts.manifest = manifest.length;
    result.counts.bytes = manifest.reduce((s, e) => s + e.size, 0);
    const epoch = pinned(ctx.db, destination)!.epoch;
    const send = manifest.filter((e, i) => {
      if (e.status !== "present") return false;
      const r = records.get(i);
      return !(r && r.epoch === epoch && r.ok === 1n);
    });
    result.would_send = { files: send.length, bytes: send.reduce((s, e) => s + e.size, 0), paths: send.map((e) => e.path) };
    return result;
  }
  const out = await withRun(ctx, { kind, volume, destination }, checks, async (run, root) => {
    result.run_id = run.id;
    const epoch = pinned(ctx.db, destination)!.epoch;
    const caps = await dest.handler.capabilities();
    const [preflightRefusal] = await ctx.registry.emit("sync:preflight", {
      run: runInfo(run),
      volume,
      destination,
      type: dest.config.type,
      options: dest.config.options,
      table: ctx.config.destinations[destination]?.table ?? {},
      capabilities: caps,
    });
    if (preflightRefusal) throw refused("preflight_refused", `refused: ${kind} of ${volume} to ${destination}: ${preflightRefusal.decision.refuse}`, preflightRefusal.decision.hint);

    // the manifest, captured once before any transfer, with each entry's object record here
    const { manifest, changedRuns, checks: records } = manifestWithChecks(ctx.db, destination, volume);
    result.counts.manifest = manifest.length;
    result.counts.bytes = manifest.reduce((n, e) => n + e.size, 0);
    // which objects must have their content compared now (a receipt may settle only the others)
    const recordAt = (i: number) => records.get(i);
    const proof = proofOf(ctx.config.destinations[destination]?.table);
    const plan = planRechecks(manifest, changedRuns, recordAt, epoch, kind === "verify" ? 0 : proof.reverifyBudget);
    result.counts.rechecked = plan.rolling;
    for (const w of caps.warnings) if (!result.warnings.includes(w)) (result.warnings.push(w), ctx.log.warn(`${destination}: ${w}`));
    const hctx = handlerContext(ctx, { runId: run.id, volume, volumeRoot: root, epoch, receiptScope: receiptScope(ctx.db, destination, volume), signal: opts.signal ?? new AbortController().signal, warnings: result.warnings });
    if (opts.bwlimit !== undefined) hctx.bwlimit = opts.bwlimit;
    let raw: FileOutcome[];
    let handlerError: unknown;
    // a destination that is the volume itself (a bind mount, an rclone remote covering it) holds no copies
    await assertNotTheVolume(ctx, destination, dest, volume, root, hctx);
    checkpoint("sync.push"); // the run is registered, nothing pushed yet
    try {
      raw = await metered(hctx, { phase: kind === "sync" ? "push" : "verify", entries: manifest, destination }, (c) => (kind === "sync" ? dest.handler.push(manifest, c) : dest.handler.verify(manifest, c)));
    } catch (e) {
      handlerError = e;
      raw = [];
    }
    checkpoint("sync.record");
    // only outcomes for manifest paths count (the first for each); anything else a handler says is ignored
    const outcomes = alignOutcomes(manifest, raw);
    sanitizeOutcomes(manifest, outcomes, nowNs());

    // the (origin, method) pairs of verified entries, for the policy
    function* pairs(): Generator<[string, Method]> {
      for (let i = 0; i < manifest.length; i++) {
        const o = outcomes[i];
        if (o?.ok) yield [manifest[i]!.originNode, o.method];
      }
    }
    const accepted = await acceptedMethods(ctx, volume, destination, dest.config.type, pairs());
    const advances = computeAdvances(manifest, outcomes, accepted);

    // each entry's latest content-check time after this run (null: none, or its check failed now)
    const checkedAt = (i: number): bigint | null => {
      const o = outcomes[i];
      if (!o || !o.ok || !accepted(manifest[i]!.originNode, o.method)) return null;
      return o.unchanged ? records.goodCheckAt(i, epoch) : o.verifiedAt;
    };
    ctx.db.tx(() => {
      recordObjectOutcomes(ctx.db, destination, volume, epoch, run.id, manifest, outcomes, recordAt);
      for (const a of advances) {
        const cur = component(ctx.db, volume, destination, a.originNode);
        const live = cur && cur.epoch === epoch ? cur : undefined;
        const w = decideComponentWrite(a, live && { originRun: live.origin_run, confirmedRun: live.confirmed_run, verifiedAt: live.verified_at }, run.id, (upTo) => oldestCheckBehind(manifest, a.originNode, upTo, checkedAt));
        let res = "unchanged";
        if (w.kind === "advance" || w.kind === "reverify") res = writeAdvance(ctx.db, volume, destination, epoch, run.id, w.advance, w.confirmedRun);
        else if (w.kind === "touch") {
          touchComponent(ctx.db, volume, destination, a.originNode);
          // objects accepted on receipts: the prefix holds, and the oldest content check behind it
          // (this run's checks, the others' records) may have moved forward by rolling re-verification
          if (w.refreshTo !== null && refreshVerifiedAt(ctx.db, volume, destination, a.originNode, epoch, w.refreshTo, run.id)) res = "refreshed";
        }
        result.evidence.push({ origin_node: a.originNode, origin_run: "advance" in w ? w.advance.originRun : a.originRun, method: a.method, result: res, verified_at: "advance" in w ? w.advance.verifiedAt : (live?.verified_at ?? null), blocked: a.blockedAt && { origin_run: a.blockedAt.originRun, path: a.blockedAt.path, reason: a.blockedAt.reason } });
      }
      const alarmed = openAlarmPaths(ctx.db, volume, destination); // the paths a verified entry may clear
      for (let i = 0; i < manifest.length; i++) {
        const e = manifest[i]!;
        const o = outcomes[i];
        if (o?.ok) {
          result.counts.verified++;
          if (o.unchanged) result.counts.unchanged++;
          else if (o.method === "size") result.counts.size_only++;
          else result.counts.checked++;
          if (o.transferred) result.counts.transferred++;
          if (alarmed.has(e.path)) clearAlarm(ctx.db, volume, destination, e.path, run.id); // held there again (a restored file pushed back too)
          continue;
        }
        const reason = o ? (o as { reason: string }).reason : handlerError ? `not verified: ${(handlerError as Error)?.message ?? handlerError}` : "not verified (the destination reported nothing for it)";
        result.counts.failed++;
        // missing: the destination says the object is absent (lost), not merely unproved or damaged
        result.failures.push({ path: e.path, reason, offloaded: e.status === "offloaded", missing: o?.ok === false && o.missing === true });
        if (e.status === "offloaded") {
          raiseAlarm(ctx.db, { volume, destination, path: e.path, blake3: e.blake3, reason, run: run.id });
          result.alarms.push({ path: e.path, reason });
        }
      }
    });
    result.counts.alarms = result.alarms.length;
    for (const a of result.alarms) ctx.log.warn(`ALARM: offloaded file ${volume}/${a.path} is not safe at ${destination}: ${a.reason} (it may be the only copy)`);
    // evidence advanced or content-checked: the signed map of the rows that hold here, written there
    if (result.evidence.some((e) => CATALOG_AFTER.has(e.result)))
      result.catalog = await writeCatalog(ctx, { destination, volume, runId: run.id, epoch, handler: dest.handler, ctx: hctx, rows: manifest.filter((_, i) => checkedAt(i) !== null) });
    const reminder = kind === "sync" ? backupReminder(ctx.db, volume) : undefined; // the DB maps the offloaded files: say when it was never backed up
    if (reminder && !result.warnings.includes(reminder)) result.warnings.push(reminder);
    if (handlerError) {
      const msg = handlerError instanceof Error ? handlerError.message : String(handlerError);
      if (handlerError instanceof HoardError && handlerError.kind === "refused") throw handlerError;
      result.status = "failed";
      return { status: "failed", counts: result.counts, result, error: msg };
    }
    result.status = result.counts.failed > 0 ? "partial" : "success";
    return { status: result.status, counts: result.counts, result, error: result.counts.failed ? `${result.counts.failed} of ${manifest.length} files not verified at ${destination}` : undefined };
  });
  return out.result;
}

/** A pair whose check threw before it produced a result: status `refused` or `failed`, with the error. */
export interface CheckError extends Omit<CheckResult, "status"> {
  status: "refused" | "failed";
  error: { code: string; kind: string; message: string; hint: string | null };
}

/**
 * Check every (volume, destination) pair in turn; one that throws (unreachable, not initialised,
 * identity mismatch, a preflight refusal) is reported with its error and the others still run.
 */
export async function checkEach(ctx: OpContext, kind: "sync" | "verify", pairs: readonly [string, string][], opts: { dryRun?: boolean; bwlimit?: string } = {}): Promise<(CheckResult | CheckError)[]> {
  const out: (CheckResult | CheckError)[] = [];
  for (const [volume, destination] of pairs) {
    try {
      out.push(await checkVolume(ctx, kind, volume, destination, opts));
    } catch (e) {
      // a single pair keeps its own exit code and error document (e.g. exit 3 for an uninitialised destination)
      if (pairs.length === 1) throw e;
      const he = e instanceof HoardError ? e : undefined;
      const message = (e as Error)?.message ?? String(e);
      ctx.log.warn(`${kind} ${volume} → ${destination}: ${message}${he?.hint ? ` (next: ${he.hint})` : ""}`);
      out.push({
        run_id: null,
        kind,
        volume,
        destination,
        status: he?.kind === "refused" ? "refused" : "failed",
        counts: { manifest: 0, verified: 0, checked: 0, unchanged: 0, size_only: 0, rechecked: 0, failed: 0, transferred: 0, alarms: 0, bytes: 0 },
        evidence: [],
        failures: [],
        alarms: [],
        warnings: [],
        catalog: null,
        error: { code: he?.code ?? "internal", kind: he?.kind ?? "failure", message, hint: he?.hint ?? null },
      });
    }
  }
  return out;
}
