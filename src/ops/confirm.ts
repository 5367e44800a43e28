// Live confirmation for offload: reach every required destination (or name the trusted ones that
// could not be reached), then ask each, batch by batch, whether it holds each file right now.

import { closeSync, constants, fstatSync, writeSync } from "node:fs";
import { randomBytes, randomUUID } from "node:crypto";
import { failure, HoardError, refused } from "../kernel/errors.ts";
import { openRoot } from "../kernel/anchored.ts";
import { hashBytes } from "../kernel/hash.ts";
import type { HandlerContext } from "../kernel/plugin.ts";
import { checkDestinationIdentity, type DestinationRow } from "../kernel/dest-identity.ts";
import type { ConfirmDepth, FileOutcome, ManifestEntry } from "../kernel/plugin.ts";
import { objectCheck, objectKey, recordConfirmations, type ObjectCheck } from "../kernel/objects.ts";
import type { Db } from "../kernel/db.ts";
import { checkpoint } from "../kernel/crash.ts";
import { nowNs } from "../kernel/runtime.ts";
import { proofOf } from "../config/schema.ts";
import type { OpContext } from "./context.ts";
import { collect, handlerContext, openDestination, type OpenDestination } from "./dest-open.ts";
import { acceptedMethods } from "./policy.ts";
import { metered, past, type Slice } from "./meter.ts";

/** What an offload reports per required destination. */
export interface DestinationReport {
  name: string;
  trusted: boolean;
  /** false: trusted, could not be reached, believed from its recorded evidence. */
  asked: boolean;
  note?: string;
  presence: number;
  content: number;
  unconfirmed: number;
}

export interface Reached {
  name: string;
  dest: OpenDestination;
  pin: DestinationRow;
  report: DestinationReport;
  /** Which hash methods this destination's policy accepts as a content confirmation (for the origins asked so far). */
  accepts: (origin: string, method: string) => boolean;
  /** The origin nodes `accepts` knows (each batch adds its own: see acceptOrigins). */
  origins: Set<string>;
}

/**
 * Identity errors that mean "cannot be reached" (a trusted destination may then be believed from
 * its recorded evidence). Anything else — a destination that answers with an unreadable, foreign
 * or missing marker — is a destination showing another identity, believed by nobody.
 */
const UNREACHABLE = new Set(["dest_missing", "dest_unreachable", "kopia_repo_unreachable", "rclone_unreachable", "restic_repo_unreachable"]);
const isUnreachable = (e: unknown) => e instanceof HoardError && e.kind !== "refused" && (UNREACHABLE.has(e.code) || e.details?.unreachable === true);

/**
 * Refuse a destination whose copy of the volume is the volume itself (a bind mount, the same disk
 * mounted twice, an rclone remote that covers the volume): a probe file with a fresh random name is
 * created in the volume root through an anchored handle and the destination is asked to confirm it.
 * No destination can hold a file that was never pushed, so one that sees it is looking at the
 * volume, and nothing it "holds" is a copy. The probe is removed at once (the next index removes
 * it after a crash: it has hoard's temp name).
 */
export async function assertNotTheVolume(ctx: OpContext, name: string, dest: OpenDestination, volume: string, root: string, hctx: HandlerContext): Promise<void> {
  const dir = openRoot(root);
  const probe = `.hoard-tmp-${randomUUID()}`;
  try {
    const bytes = randomBytes(32);
    const fd = dir.openFile(probe, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    let mtimeNs: bigint;
    try {
      writeSync(fd, bytes);
      mtimeNs = fstatSync(fd, { bigint: true }).mtimeNs;
    } finally {
      closeSync(fd);
    }
    const entry: ManifestEntry = { path: probe, size: bytes.length, mtimeNs, blake3: hashBytes(bytes), contentId: 0n, originNode: "", originRun: 0n, status: "present" };
    let seen = false;
    try {
      if (typeof dest.handler.confirm === "function") seen = (await collect(dest.handler.confirm([entry], hctx, "presence"))).some((o) => o.path === probe && o.ok);
    } catch (e) {
      ctx.log.debug(`${name}: the volume probe could not be asked (${(e as Error)?.message ?? e})`);
    }
    if (seen)
      throw refused(
        "dest_is_volume",
        `refused: destination ${name} shows a file just created in volume ${volume} and never pushed: its copy of the volume is the volume itself (a bind mount, the same disk mounted twice, or an rclone remote covering the volume), so nothing there is a copy`,
        `point destinations.${name} at another place (hoard checks path overlaps in the config, but not mounts or rclone remotes defined outside it)`,
      );
  } finally {
    try {
      dir.unlink(probe);
    } catch {}
    dir.close();
  }
}

/** Methods that show presence only: never a content confirmation. */
const PRESENCE_ONLY = new Set(["presence", "size", ""]);
const HASHES = ["blake3", "sha256", "sha1", "md5"];

/**
 * Check every required destination's identity online. One that shows another identity refuses
 * the offload (exit 3); one that cannot be reached refuses it too, unless it is `trusted`: then
 * it is reported as not asked. Nothing has been deleted when this throws.
 */
export async function reachDestinations(ctx: OpContext, volume: string, required: readonly string[], reports: DestinationReport[]): Promise<Reached[]> {
  const out: Reached[] = [];
  for (const d of required) {
    const dest = openDestination(ctx, d);
    const trusted = proofOf(ctx.config.destinations[d]?.table).trusted;
    const report: DestinationReport = { name: d, trusted, asked: true, presence: 0, content: 0, unconfirmed: 0 };
    reports.push(report);
    let pin: DestinationRow;
    try {
      pin = await checkDestinationIdentity(ctx.db, d, dest.handler);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      const identity = !isUnreachable(e);
      // only a destination that cannot be reached may be believed unasked (if trusted); one that
      // answers with another, missing or unreadable identity is believed by nobody
      if (trusted && !identity) {
        report.asked = false;
        report.note = `not asked: ${msg}; believed from its recorded evidence (trusted = true)`;
        ctx.log.warn(`${d} is trusted and could not be reached: relying on its recorded evidence (${msg})`);
        continue;
      }
      throw refused(
        identity ? "offload_identity" : "offload_unreachable",
        `refused: offload of ${volume}: ${msg}; nothing was deleted`,
        identity && e instanceof HoardError && e.hint ? e.hint : identity ? `check ${d}: it does not show its pinned identity` : `make ${d} reachable and run the offload again (a destination you trust without asking, such as a disk in your safe, may be marked trusted = true in [destinations.${d}])`,
      );
    }
    out.push({ name: d, dest, pin, report, accepts: () => false, origins: new Set() });
  }
  return out;
}

/** Let `a.accepts` know the origin nodes of these entries too (the policy is asked about each pair once). */
async function acceptOrigins(ctx: OpContext, volume: string, a: Reached, entries: readonly ManifestEntry[]): Promise<void> {
  let fresh = false;
  for (const e of entries) if (!a.origins.has(e.originNode)) (a.origins.add(e.originNode), (fresh = true));
  if (!fresh) return;
  const pairs: [string, string][] = [];
  for (const o of a.origins) for (const m of HASHES) pairs.push([o, m]);
  a.accepts = await acceptedMethods(ctx, volume, a.name, a.dest.config.type, pairs);
}

/**
 * The object records of a batch at one destination, by objectKey: one read of the records between its
 * first and last path (a batch comes in path order), only the batch's own kept. A record it misses is
 * looked up on its own by the caller.
 */
function batchRecords(db: Db, destination: string, volume: string, entries: readonly ManifestEntry[]): Map<string, ObjectCheck> {
  const m = new Map<string, ObjectCheck>();
  if (entries.length === 0) return m;
  const want = new Set(entries.map((e) => objectKey(e.path, e.contentId)));
  for (const r of db.iterate<ObjectCheck & { path: string }>("SELECT path, content_id, epoch, ok, method, reason, run, checked_at, checked_run FROM dest_objects WHERE destination = ? AND volume = ? AND path >= ? AND path <= ?", destination, volume, entries[0]!.path, entries[entries.length - 1]!.path)) {
    const k = objectKey(r.path, r.content_id);
    if (want.has(k)) m.set(k, r);
  }
  return m;
}

export interface BatchVerdict {
  /** path -> the first destination that did not confirm it, and why. */
  kept: Map<string, { destination: string; reason: string }>;
  /** Set when a destination changed identity or vanished before this batch: nothing of it may go. */
  stopped?: string;
}

/**
 * Ask every reached destination about one batch. Depth: `override`, else the destination's
 * offload_confirm, raised to "content" for files whose last content check there is older than
 * its reverify_after. With `record`, failures are written to the object records (the gate then
 * refuses those files until a push repairs them) and content confirmations refresh them.
 */
export async function confirmBatch(ctx: OpContext, o: { volume: string; root: string; runId: bigint; record: boolean; override?: ConfirmDepth; at?: Slice }, reached: Reached[], entries: ManifestEntry[]): Promise<BatchVerdict> {
  const kept = new Map<string, { destination: string; reason: string }>();
  for (const a of reached) {
    // identity again, per batch: the place asked now is still the one pinned
    try {
      await checkDestinationIdentity(ctx.db, a.name, a.dest.handler);
    } catch (e) {
      return { kept, stopped: `${a.name}: ${(e as Error).message}` };
    }
    const proof = proofOf(ctx.config.destinations[a.name]?.table);
    const now = nowNs();
    await acceptOrigins(ctx, o.volume, a, entries);
    const records = (o.override ?? proof.confirm) === "presence" ? batchRecords(ctx.db, a.name, o.volume, entries) : undefined;
    const byDepth: Record<ConfirmDepth, ManifestEntry[]> = { presence: [], content: [] };
    for (const e of entries) {
      let depth: ConfirmDepth = o.override ?? proof.confirm;
      if (depth === "presence") {
        const rec = records!.get(objectKey(e.path, e.contentId)) ?? objectCheck(ctx.db, a.name, o.volume, e.path, e.contentId);
        if (!rec || rec.epoch !== a.pin.epoch || rec.checked_at === null || now - rec.checked_at > proof.reverifyAfterNs) depth = "content";
      }
      byDepth[depth].push(e);
    }
    const hctx = handlerContext(ctx, { runId: o.runId, volume: o.volume, volumeRoot: o.root, epoch: a.pin.epoch, signal: new AbortController().signal, warnings: [] });
    // and it is not the volume itself seen through another path
    try {
      await assertNotTheVolume(ctx, a.name, a.dest, o.volume, o.root, hctx);
    } catch (e) {
      return { kept, stopped: `${a.name}: ${(e as Error).message}` };
    }
    let at = o.at; // where this destination's answers sit in the whole offload (its progress)
    for (const depth of ["presence", "content"] as const) {
      const list = byDepth[depth];
      if (list.length === 0) continue;
      let raw: FileOutcome[] = [];
      let askError: string | undefined;
      try {
        if (typeof a.dest.handler.confirm !== "function") throw failure("no_confirm", `destination type ${a.dest.config.type} cannot confirm files live (its plugin has no confirm)`);
        raw = await metered(hctx, { phase: "confirm", entries: list, destination: a.name, slice: at }, (c) => a.dest.handler.confirm!(list, c, depth));
      } catch (e) {
        askError = (e as Error)?.message ?? String(e);
      }
      at = at && past(at, list);
      checkpoint("offload.confirm");
      const byPath = new Map<string, FileOutcome>();
      for (const x of raw) if (!byPath.has(x.path)) byPath.set(x.path, x);
      const outs = list.map((e) => byPath.get(e.path));
      // judge every answer first; only then record: an answer that does not hold is recorded as a
      // failure, never as a check (a presence-only or rejected method is not a content check)
      const judged: (FileOutcome | undefined)[] = [];
      for (let i = 0; i < list.length; i++) {
        const e = list[i]!;
        const x = outs[i];
        let why: string | undefined;
        if (askError !== undefined) why = `could not be asked: ${askError}`;
        else if (!x) why = "gave no answer for it";
        // only the boolean true confirms: a plugin's ok: "false" (or any other value) is not consent
        else if (x.ok !== true) why = x.ok === false && typeof (x as { reason?: unknown }).reason === "string" ? (x as { reason: string }).reason : `answered ok: ${JSON.stringify(x.ok) ?? "undefined"}, not true`;
        else if (typeof x.method !== "string" || x.method === "") why = "answered ok without a method";
        else if (x.unchanged) why = "answered from a receipt, not from the destination";
        else if (depth === "presence" && x.method !== "presence" && PRESENCE_ONLY.has(x.method)) why = `answered by ${x.method || "nothing"}`;
        else if (depth === "content" && (PRESENCE_ONLY.has(x.method) || !a.accepts(e.originNode, x.method))) why = `answered by ${x.method || "nothing"}, which does not compare content`;
        if (why !== undefined) {
          if (!kept.has(e.path)) kept.set(e.path, { destination: a.name, reason: why });
          a.report.unconfirmed++;
          judged.push(x && x.ok === false && typeof (x as { reason?: unknown }).reason === "string" ? x : { path: e.path, ok: false, reason: why });
        } else {
          a.report[depth]++;
          judged.push(x);
        }
      }
      if (o.record && askError === undefined) ctx.db.tx(() => recordConfirmations(ctx.db, a.name, o.volume, a.pin.epoch, o.runId, depth, list, judged));
    }
  }
  return { kept };
}
