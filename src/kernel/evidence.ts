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
      if (!agg) runs.set(e.originRun, (agg = { count: 0, oldest: null, methods: new Set() }));
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
    if (agg.oldest === null || o.verifiedAt < agg.oldest) agg.oldest = o.verifiedAt;
  }
  const out: Advance[] = [];
  for (const [originNode, runs] of [...byOrigin].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const order = [...runs.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    let best: bigint | null = null;
    let oldest: bigint | null = null;
    const methods = new Set<string>();
    let covered = 0;
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
    }
    out.push({ originNode, originRun: best, verifiedAt: oldest, method: [...methods].sort().join("+"), covered, blockedAt });
  }
  return out;
}
