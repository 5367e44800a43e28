// Evidence expiry: when each component stops being fresh (asked of policy plugins through the
// evidence:expiry hook), the `evidence expire` workflow, and the problem list of `status --check`.

import type { ComponentView } from "../kernel/plugin.ts";
import { failedObjects } from "../kernel/objects.ts";
import { usageError } from "../kernel/errors.ts";
import { component, componentView, components, lastExpire, logHistory, type ComponentRow } from "../kernel/vector.ts";
import { lastFinishedRun } from "../kernel/runs.ts";
import { pinned } from "../kernel/dest-identity.ts";
import { openAlarms } from "../kernel/alarms.ts";
import { liveOrigins } from "../kernel/aggregates.ts";
import { nowNs } from "../kernel/runtime.ts";
import { formatDuration } from "../kernel/duration.ts";
import type { OpContext } from "./context.ts";

export interface Expiry {
  /** Some policy limits this component's age. */
  limited: boolean;
  /** When it stops (stopped) being fresh; null when unlimited or never verified. */
  expires_at: bigint | null;
  stale: boolean;
  /** The policy's words for the limit (e.g. "max_evidence_age 30d"). */
  why: string | null;
}

/** Ask policy plugins when a current-epoch component expires; the earliest answer wins. */
export async function componentExpiry(ctx: OpContext, view: ComponentView, now: bigint): Promise<Expiry> {
  let at: bigint | null | undefined;
  let why: string | null = null;
  const decisions = await ctx.registry.emit("evidence:expiry", {
    volume: view.volume,
    destination: view.destination,
    table: ctx.config.destinations[view.destination]?.table ?? {},
    config: ctx.config.extra,
    component: view,
    now,
  });
  for (const { decision: { expiresAt: a, why: w } } of decisions)
    if (at === undefined || (at !== null && (a === null || a < at))) (at = a), (why = w);
  if (at === undefined) return { limited: false, expires_at: null, stale: false, why: null };
  return { limited: true, expires_at: at, stale: at === null || at < now, why };
}

/** Expiry of a stored component: only current-epoch components can be fresh or stale. */
export async function expiryOf(ctx: OpContext, c: ComponentRow, now: bigint): Promise<Expiry> {
  const pin = pinned(ctx.db, c.destination);
  if (!pin || pin.epoch !== c.epoch) return { limited: false, expires_at: null, stale: false, why: null };
  return componentExpiry(ctx, componentView(c), now);
}

/** One crossing = one (epoch, verified_at) of a component: recorded once, again only after a refresh. */
const sameCrossing = (h: { epoch: bigint; verified_at: bigint | null } | undefined, c: ComponentRow) => !!h && h.epoch === c.epoch && h.verified_at === c.verified_at;

export interface ExpiredComponent {
  volume: string;
  destination: string;
  origin_node: string;
  origin_run: bigint;
  epoch: bigint;
  verified_at: bigint | null;
  expires_at: bigint | null;
  why: string | null;
  /** recorded now, already recorded earlier (at), or would be recorded (dry run). */
  result: "recorded" | "already-recorded" | "would-record";
  recorded_at: bigint | null;
}

/**
 * Record an `expire` event in the evidence history for every component that crossed its limit,
 * once per crossing. The check and the insert share one BEGIN IMMEDIATE transaction.
 */
export async function expireEvidence(ctx: OpContext, o: { volume?: string; dryRun?: boolean } = {}) {
  if (o.volume && !ctx.config.volumes[o.volume]) throw usageError("unknown_volume", `unknown volume ${o.volume}`);
  const now = nowNs();
  const stale: { c: ComponentRow; e: Expiry }[] = [];
  let checked = 0;
  for (const c of components(ctx.db, { volume: o.volume })) {
    const e = await expiryOf(ctx, c, now);
    if (e.limited) checked++;
    if (e.stale) stale.push({ c, e });
  }
  const out: ExpiredComponent[] = [];
  const row = (c: ComponentRow, e: Expiry, result: ExpiredComponent["result"], at: bigint | null): ExpiredComponent => ({
    volume: c.volume, destination: c.destination, origin_node: c.origin_node, origin_run: c.origin_run, epoch: c.epoch, verified_at: c.verified_at, expires_at: e.expires_at, why: e.why, result, recorded_at: at,
  });
  const note = (c: ComponentRow, e: Expiry) =>
    `${c.verified_at === null ? "never verified" : `last verified ${formatDuration(now - c.verified_at)} ago`}; ${e.why ?? "policy limit"}`;
  const apply = () => {
    for (const { c: seen, e } of stale) {
      const c = component(ctx.db, seen.volume, seen.destination, seen.origin_node);
      // refreshed (or reset) since it was judged: not this crossing any more
      if (!c || c.epoch !== seen.epoch || c.verified_at !== seen.verified_at) continue;
      const h = lastExpire(ctx.db, c.volume, c.destination, c.origin_node);
      if (sameCrossing(h, c)) out.push(row(c, e, "already-recorded", h!.at));
      else if (o.dryRun) out.push(row(c, e, "would-record", null));
      else {
        logHistory(ctx.db, { volume: c.volume, destination: c.destination, originNode: c.origin_node, kind: "expire", oldRun: c.origin_run, newRun: c.origin_run, method: c.method, run: null, epoch: c.epoch, verifiedAt: c.verified_at, note: note(c, e) });
        out.push(row(c, e, "recorded", nowNs()));
      }
    }
  };
  if (o.dryRun) apply();
  else ctx.db.tx(apply);
  return { dry_run: !!o.dryRun, checked, stale: out.length, recorded: out.filter((x) => x.result === "recorded").length, components: out };
}

export interface Problem {
  volume: string;
  destination: string | null;
  code: "stale_evidence" | "alarm" | "last_sync_failed" | "last_sync_partial" | "last_sync_refused" | "dest_not_initialised" | "object_check_failed";
  message: string;
  hint: string;
}

/**
 * What `status --check` reports: for each volume's required destinations, stale (or never
 * verified) evidence for content the volume holds, an uninitialised destination, a last sync that
 * did not succeed; and every standing alarm of the volume. Empty = protection is in place.
 */
export async function protectionProblems(ctx: OpContext, volumes: string[]): Promise<Problem[]> {
  const now = nowNs();
  const out: Problem[] = [];
  for (const volume of volumes) {
    const vol = ctx.config.volumes[volume];
    if (!vol) throw usageError("unknown_volume", `unknown volume ${volume}`);
    const origins = liveOrigins(ctx.db, volume);
    for (const d of vol.offload_requires) {
      const pin = pinned(ctx.db, d);
      if (!pin) {
        out.push({ volume, destination: d, code: "dest_not_initialised", message: `required destination ${d} is not initialised`, hint: `run \`hoard dest init ${d}\`, then \`hoard sync ${volume} --to ${d}\`` });
        continue;
      }
      const comps = new Map(components(ctx.db, { volume, destination: d }).filter((c) => c.epoch === pin.epoch).map((c) => [c.origin_node, c]));
      for (const origin of origins) {
        const c = comps.get(origin);
        const view: ComponentView = c ? componentView(c) : { volume, destination: d, originNode: origin, originRun: 0n, method: "", verifiedAt: null, confirmedRun: null, epoch: pin.epoch };
        const e = await componentExpiry(ctx, view, now);
        if (!e.stale) continue;
        const what = view.verifiedAt === null ? "has never been verified" : `was last verified ${formatDuration(now - view.verifiedAt)} ago`;
        out.push({ volume, destination: d, code: "stale_evidence", message: `${d}'s evidence for content from ${origin} ${what} (${e.why ?? "policy limit"})`, hint: c ? `run \`hoard verify ${d}\`` : `run \`hoard sync ${volume} --to ${d}\`` });
      }
      // any live object whose latest check there failed (a sync, a verify, or an offload's live confirmation)
      const failed = failedObjects(ctx.db, volume, d, pin.epoch);
      if (failed.length)
        out.push({ volume, destination: d, code: "object_check_failed", message: `the latest check of ${failed.length} file${failed.length === 1 ? "" : "s"} at ${d} failed (e.g. ${failed.slice(0, 3).map((f) => `${f.path}: ${f.reason ?? "?"}`).join("; ")})`, hint: `run \`hoard sync ${volume} --to ${d}\` to push them again (or restore offloaded ones from another destination)` });
      const last = lastFinishedRun(ctx.db, volume, d, "sync");
      if (last && (last.status === "failed" || last.status === "partial" || last.status === "refused"))
        out.push({ volume, destination: d, code: `last_sync_${last.status}` as Problem["code"], message: `the last sync of ${volume} to ${d} (run ${last.id}) ${last.status === "partial" ? "was partial" : last.status}${last.error ? `: ${last.error}` : ""}`, hint: `see \`hoard runs show ${last.id}\`, fix the cause, then \`hoard sync ${volume} --to ${d}\`` });
    }
    const byDest = new Map<string, { n: number; paths: string[] }>();
    for (const a of openAlarms(ctx.db, volume)) {
      let g = byDest.get(a.destination);
      if (!g) byDest.set(a.destination, (g = { n: 0, paths: [] }));
      g.n++;
      if (g.paths.length < 3) g.paths.push(a.path);
    }
    for (const [d, g] of byDest)
      out.push({ volume, destination: d, code: "alarm", message: `${g.n} offloaded file${g.n === 1 ? " is" : "s are"} not safe at ${d} (e.g. ${g.paths.join(", ")}); ${g.n === 1 ? "it" : "they"} may be the only copy`, hint: `restore them from another destination (\`hoard restore ${volume} --from DEST\`), or fix ${d} and \`hoard verify ${d} ${volume}\`; a file lost for good: \`hoard alarms ${volume}\`, then \`hoard alarm ack ID --note "why"\`` });
  }
  return out;
}
