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
 * Compute per-origin prefix advances. `accepted(method)` is the policy; outcomes missing for an
 * entry count as not verified (a handler that skipped a file claimed nothing for it).
 */
export function computeAdvances(manifest: readonly ManifestEntry[], outcomes: ReadonlyMap<string, FileOutcome>, accepted: (originNode: string, method: Method) => boolean): Advance[] {
  const byOrigin = new Map<string, ManifestEntry[]>();
  for (const e of manifest) {
    let l = byOrigin.get(e.originNode);
    if (!l) byOrigin.set(e.originNode, (l = []));
    l.push(e);
  }
  const out: Advance[] = [];
  for (const [originNode, entries] of [...byOrigin].sort(([a], [b]) => (a < b ? -1 : 1))) {
    // group by origin run, ascending
    const runs = new Map<bigint, ManifestEntry[]>();
    for (const e of entries) {
      let l = runs.get(e.originRun);
      if (!l) runs.set(e.originRun, (l = []));
      l.push(e);
    }
    const order = [...runs.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    let best: bigint | null = null;
    let oldest: bigint | null = null;
    const methods = new Set<string>();
    let covered = 0;
    let blockedAt: Advance["blockedAt"];
    outer: for (const r of order) {
      let runOldest: bigint | null = oldest;
      const runMethods: string[] = [];
      for (const e of runs.get(r)!) {
        const o = outcomes.get(e.path);
        const reason = !o ? "no outcome reported" : !o.ok ? o.reason : !accepted(originNode, o.method) ? `method ${o.method} is not accepted by policy` : undefined;
        if (reason !== undefined || !o || !o.ok) {
          blockedAt = { originRun: r, path: e.path, reason: reason ?? "not verified" };
          break outer;
        }
        runMethods.push(o.method);
        if (runOldest === null || o.verifiedAt < runOldest) runOldest = o.verifiedAt;
      }
      best = r;
      oldest = runOldest;
      for (const m of runMethods) methods.add(m);
      covered += runs.get(r)!.length;
    }
    out.push({ originNode, originRun: best, verifiedAt: oldest, method: [...methods].sort().join("+"), covered, blockedAt });
  }
  return out;
}
