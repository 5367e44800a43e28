// Evidence from per-file outcomes (pure): for each origin node, the largest origin run r such that
// every manifest entry of that origin with origin run ≤ r verified with an accepted method.

import type { FileOutcome, ManifestEntry, Method } from "./plugin.ts";

export interface Advance {
  originNode: string;
  /** Largest fully verified origin run, or null when even the first run has a failure. */
  originRun: bigint | null;
  /** Oldest verification time among the entries the advance covers. */
  verifiedAt: bigint | null;
  /** The distinct accepted methods behind the covered entries, sorted, joined by "+". */
  method: string;
  covered: number;
  /**
   * Whether every covered entry had its content compared in this run (none was accepted on a
   * receipt): only then may the run refresh the component's verified_at and confirmed_run.
   */
  allChecked: boolean;
  /** The first origin run that blocked further advance, and why. */
  blockedAt?: { originRun: bigint; path: string; reason: string };
}

export function methodSet(method: string): Method[] {
  return method.split("+").filter(Boolean);
}

/**
 * Outcomes of a manifest's entries: by path, or an array aligned with the manifest (entry i's
 * outcome at index i, the form a large sync passes to avoid building maps of every path).
 */
export type Outcomes = ReadonlyMap<string, FileOutcome> | readonly (FileOutcome | undefined)[];

/** The outcome of manifest entry i under either form. */
export function outcomeAt(outcomes: Outcomes, manifest: readonly ManifestEntry[]): (i: number) => FileOutcome | undefined {
  if (Array.isArray(outcomes)) return (i) => (outcomes as readonly (FileOutcome | undefined)[])[i];
  const m = outcomes as ReadonlyMap<string, FileOutcome>;
  return (i) => m.get(manifest[i]!.path);
}

/**
 * A handler's outcomes aligned with the manifest: for entry i the first outcome reported for its
 * path, or undefined. Outcomes for paths outside the manifest are ignored. Handlers usually
 * answer in manifest order, which is checked and then taken as is (no map of every path).
 */
export function alignOutcomes(manifest: readonly ManifestEntry[], raw: readonly FileOutcome[]): (FileOutcome | undefined)[] {
  let inOrder = raw.length >= manifest.length;
  for (let i = 0; inOrder && i < manifest.length; i++) if (raw[i]!.path !== manifest[i]!.path) inOrder = false;
  if (inOrder) return raw.slice(0, manifest.length);
  const byPath = new Map<string, FileOutcome>();
  for (const o of raw) if (!byPath.has(o.path)) byPath.set(o.path, o);
  return manifest.map((e) => byPath.get(e.path));
}

/** What the entries of one (origin, origin run) group showed: all verified, or the first that was not. */
interface RunAgg {
  count: number;
  oldest: bigint | null;
  methods: Set<string>;
  /** Entries accepted on a receipt (`unchanged`), not content-checked in this run. */
  unchanged: number;
  firstFailure?: { path: string; reason: string };
}

/**
 * Compute per-origin prefix advances. `accepted(method)` is the policy; outcomes missing for an
 * entry count as not verified (a handler that skipped a file claimed nothing for it). One pass
 * over the manifest groups entries by (origin, origin run); then each origin's runs are swept in
 * ascending order up to the first run with a failure (its first failing entry, in manifest
 * order, is the reason).
 */
export function computeAdvances(manifest: readonly ManifestEntry[], outcomes: Outcomes, accepted: (originNode: string, method: Method) => boolean): Advance[] {
  const at = outcomeAt(outcomes, manifest);
  const byOrigin = new Map<string, Map<bigint, RunAgg>>();
  // consecutive entries usually share origin and run: reuse the last group without lookups
  let lastNode: string | undefined;
  let lastRun: bigint | undefined;
  let agg: RunAgg | undefined;
  // the policy's verdict per (origin, method), asked once
  const verdicts = new Map<string, Map<string, boolean>>();
  for (let i = 0; i < manifest.length; i++) {
    const e = manifest[i]!;
    if (agg === undefined || e.originNode !== lastNode || e.originRun !== lastRun) {
      let runs = byOrigin.get(e.originNode);
      if (!runs) byOrigin.set(e.originNode, (runs = new Map()));
      agg = runs.get(e.originRun);
      if (!agg) runs.set(e.originRun, (agg = { count: 0, oldest: null, methods: new Set(), unchanged: 0 }));
      lastNode = e.originNode;
      lastRun = e.originRun;
    }
    agg.count++;
    if (agg.firstFailure) continue;
    const o = at(i);
    let reason: string | undefined;
    if (!o) reason = "no outcome reported";
    else if (!o.ok) reason = o.reason;
    else {
      let v = verdicts.get(e.originNode);
      if (!v) verdicts.set(e.originNode, (v = new Map()));
      let ok = v.get(o.method);
      if (ok === undefined) v.set(o.method, (ok = accepted(e.originNode, o.method)));
      if (!ok) reason = `method ${o.method} is not accepted by policy`;
    }
    if (reason !== undefined || !o || !o.ok) {
      agg.firstFailure = { path: e.path, reason: reason ?? "not verified" };
      continue;
    }
    agg.methods.add(o.method);
    if (o.unchanged) agg.unchanged++;
    if (agg.oldest === null || o.verifiedAt < agg.oldest) agg.oldest = o.verifiedAt;
  }
  const out: Advance[] = [];
  for (const [originNode, runs] of [...byOrigin].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const order = [...runs.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    let best: bigint | null = null;
    let oldest: bigint | null = null;
    const methods = new Set<string>();
    let covered = 0;
    let unchanged = 0;
    let blockedAt: Advance["blockedAt"];
    for (const r of order) {
      const g = runs.get(r)!;
      if (g.firstFailure) {
        blockedAt = { originRun: r, ...g.firstFailure };
        break;
      }
      best = r;
      if (g.oldest !== null && (oldest === null || g.oldest < oldest)) oldest = g.oldest;
      for (const m of g.methods) methods.add(m);
      covered += g.count;
      unchanged += g.unchanged;
    }
    out.push({ originNode, originRun: best, verifiedAt: oldest, method: [...methods].sort().join("+"), covered, allChecked: unchanged === 0, blockedAt });
  }
  return out;
}

/**
 * What one computed advance does to the current component (pure; applied by vector.writeAdvance,
 * touchComponent and refreshVerifiedAt): raise it (advance), verify the whole current prefix again
 * (reverify), only move updated_at and perhaps verified_at (touch), or nothing (no component yet).
 */
export type ComponentWrite =
  | { kind: "advance" | "reverify"; advance: Advance; confirmedRun: bigint | null }
  | { kind: "touch"; refreshTo: bigint | null }
  | { kind: "none" };

/** The current-epoch component an advance meets. */
export interface LiveComponent {
  originRun: bigint;
  confirmedRun: bigint | null;
  verifiedAt: bigint | null;
}

/**
 * Decide the write for advance `a` in run `run`, given the current-epoch component (if any):
 * - a higher value is an advance; its verified_at is the oldest content check behind it, and it
 *   becomes confirmed by this run only when every covered entry was content-checked now (entries
 *   accepted on receipts keep the earlier confirmed_run);
 * - an equal value, or a lower one with nothing blocked up to the current value (the manifest no
 *   longer holds the newest content), re-verifies the whole current prefix only when every entry
 *   was content-checked in this run;
 * - otherwise only updated_at moves (touch). `checkedBehind(upTo)` is the oldest content check
 *   behind the prefix up to `upTo` (oldestCheckBehind; asked only for a touch): when it is newer
 *   than the component's verified_at (rolling re-verification moved it), the touch refreshes it.
 */
export function decideComponentWrite(a: Advance, live: LiveComponent | undefined, run: bigint, checkedBehind: (upTo: bigint) => bigint | null = () => null): ComponentWrite {
  const touch = (cur: LiveComponent): ComponentWrite => {
    const at = checkedBehind(cur.originRun);
    return { kind: "touch", refreshTo: at && (cur.verifiedAt === null || at > cur.verifiedAt) ? at : null };
  };
  if (a.originRun === null || a.originRun <= 0n) return live ? touch(live) : { kind: "none" };
  if (!live || a.originRun > live.originRun) return { kind: "advance", advance: a, confirmedRun: a.allChecked ? run : (live?.confirmedRun ?? null) };
  const wholePrefix = a.originRun === live.originRun || !a.blockedAt || a.blockedAt.originRun > live.originRun;
  if (wholePrefix && a.allChecked) return { kind: "reverify", advance: { ...a, originRun: live.originRun }, confirmedRun: run };
  return touch(live);
}

/**
 * The oldest content check behind one origin's prefix (entries of `originNode` with origin run ≤
 * `upTo`), from each entry's latest content-check time; null when some entry of it has none (or its
 * check failed): then nothing can be said about the whole prefix. Rolling re-verification moves
 * this forward a few objects per sync, which is what may refresh a component's verified_at.
 */
export function oldestCheckBehind(manifest: readonly ManifestEntry[], originNode: string, upTo: bigint, checkedAt: (i: number) => bigint | null): bigint | null {
  let oldest: bigint | null = null;
  let any = false;
  for (let i = 0; i < manifest.length; i++) {
    const e = manifest[i]!;
    if (e.originNode !== originNode || e.originRun > upTo) continue;
    const t = checkedAt(i);
    if (t === null) return null;
    any = true;
    if (oldest === null || t < oldest) oldest = t;
  }
  return any ? oldest : null;
}
