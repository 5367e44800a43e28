// Invariant 1, the relation itself: `conflicts` is symmetric, offload excludes everything on its
// volume, sync/verify share a volume only towards different destinations, and destination-wide
// runs exclude every run touching their destination. Checked by fast-check over arbitrary pairs
// and exhaustively over the realistic scopes each run kind really begins with.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { conflicts, KIND_SCOPE, RUN_KINDS, scopeOf, type RunKind, type RunScope } from "../../src/kernel/conflict.ts";

const VOLS = ["v1", "v2"] as const;
const DESTS = ["d1", "d2", "d3"] as const;

const anyScope: fc.Arbitrary<RunScope> = fc
  .record({
    kind: fc.constantFrom(...RUN_KINDS),
    volume: fc.constantFrom<string | null>(null, ...VOLS),
    destination: fc.constantFrom<string | null>(null, ...DESTS),
    touches: fc.subarray([...DESTS]),
  })
  .map((r) => scopeOf(r.kind, r.volume, r.destination, r.touches));

/** The scopes hoard's workflows actually begin (src/ops): what each kind holds. */
function realistic(kind: RunKind, volume: string, dest: string, touches: string[]): RunScope {
  switch (KIND_SCOPE[kind]) {
    case "dest-wide":
      return scopeOf(kind, null, dest); // dest init/reset, evidence rewind: no volume
    case "dest-scoped":
      return scopeOf(kind, volume, dest); // sync/verify: one volume towards one destination
    case "volume":
      return kind === "index" || kind === "alarm-ack" ? scopeOf(kind, volume, null) : scopeOf(kind, volume, null, touches); // offload: required; restore: sources; recover: its source
  }
}
const realScope: fc.Arbitrary<RunScope> = fc
  .record({ kind: fc.constantFrom(...RUN_KINDS), volume: fc.constantFrom(...VOLS), dest: fc.constantFrom(...DESTS), touches: fc.subarray([...DESTS]) })
  .map((r) => realistic(r.kind, r.volume, r.dest, r.touches));

/** Every realistic scope over the small domain (9 kinds × 2 volumes × 3 destinations × 8 touch sets). */
function allRealistic(): RunScope[] {
  const subsets: string[][] = [];
  for (let m = 0; m < 1 << DESTS.length; m++) subsets.push(DESTS.filter((_, i) => m & (1 << i)));
  const seen = new Map<string, RunScope>();
  for (const k of RUN_KINDS) for (const v of VOLS) for (const d of DESTS) for (const t of subsets) {
    const s = realistic(k, v, d, t);
    seen.set(JSON.stringify(s), s);
  }
  return [...seen.values()];
}

/** DESIGN.md invariant 1, restated independently of the implementation's table. */
function oracle(a: RunScope, b: RunScope): boolean {
  const destScoped = (s: RunScope) => s.kind === "sync" || s.kind === "verify";
  const destWide = (s: RunScope) => s.kind === "dest-init" || s.kind === "dest-reset" || s.kind === "evidence-rewind";
  if (a.volume !== null && a.volume === b.volume && !(destScoped(a) && destScoped(b) && a.destination !== b.destination)) return true;
  if (destWide(a) && b.touches.includes(a.destination!)) return true;
  if (destWide(b) && a.touches.includes(b.destination!)) return true;
  return false;
}

describe("conflict relation", () => {
  test("symmetric over arbitrary (kind, volume, destination, touches) pairs", () => {
    fc.assert(fc.property(anyScope, anyScope, (a, b) => conflicts(a, b) === conflicts(b, a)), { numRuns: 5000 });
  });

  test("a run conflicts with itself (two copies of one scope never overlap)", () => {
    fc.assert(fc.property(realScope, (a) => conflicts(a, { ...a })), { numRuns: 1000 });
  });

  test("offload conflicts with every kind on its volume, in both directions", () => {
    fc.assert(
      fc.property(realScope, fc.constantFrom(...VOLS), fc.subarray([...DESTS]), (other, vol, req) => {
        const off = scopeOf("offload", vol, null, req);
        const b = other.volume === null ? other : { ...other, volume: vol };
        if (b.volume !== vol) return true; // dest-wide: covered by the touches property
        return conflicts(off, b) && conflicts(b, off);
      }),
      { numRuns: 3000 },
    );
    for (const k of RUN_KINDS) {
      if (KIND_SCOPE[k] === "dest-wide") continue;
      const b = realistic(k, "v1", "d2", []);
      expect(conflicts(scopeOf("offload", "v1", null, ["d1"]), b)).toBe(true);
      expect(conflicts(b, scopeOf("offload", "v1", null, ["d1"]))).toBe(true);
    }
  });

  test("sync/verify of one volume: different destinations may overlap, the same destination may not", () => {
    for (const k1 of ["sync", "verify"] as const)
      for (const k2 of ["sync", "verify"] as const) {
        expect(conflicts(scopeOf(k1, "v1", "d1"), scopeOf(k2, "v1", "d2"))).toBe(false);
        expect(conflicts(scopeOf(k1, "v1", "d1"), scopeOf(k2, "v1", "d1"))).toBe(true);
        // other volume, same destination: independent
        expect(conflicts(scopeOf(k1, "v1", "d1"), scopeOf(k2, "v2", "d1"))).toBe(false);
      }
    // sync and index/restore on one volume conflict whatever the destination
    expect(conflicts(scopeOf("sync", "v1", "d1"), scopeOf("index", "v1", null))).toBe(true);
    expect(conflicts(scopeOf("verify", "v1", "d1"), scopeOf("restore", "v1", null, ["d2"]))).toBe(true);
  });

  test("destination-wide kinds conflict with every run touching their destination, and only those", () => {
    fc.assert(
      fc.property(fc.constantFrom("dest-init", "dest-reset", "evidence-rewind" as const), fc.constantFrom(...DESTS), realScope, (wk, d, other) => {
        const w = scopeOf(wk as RunKind, null, d);
        const expected = other.touches.includes(d);
        return conflicts(w, other) === expected && conflicts(other, w) === expected;
      }),
      { numRuns: 3000 },
    );
    // offload of a volume whose policy requires the destination
    expect(conflicts(scopeOf("dest-reset", null, "d1"), scopeOf("offload", "v1", null, ["d1", "d2"]))).toBe(true);
    expect(conflicts(scopeOf("dest-reset", null, "d1"), scopeOf("offload", "v1", null, ["d2"]))).toBe(false);
    expect(conflicts(scopeOf("evidence-rewind", null, "d3"), scopeOf("restore", "v2", null, ["d3"]))).toBe(true);
    expect(conflicts(scopeOf("dest-reset", null, "d1"), scopeOf("index", "v1", null))).toBe(false);
  });

  test("exhaustively equal to DESIGN.md's relation over every pair of realistic scopes", () => {
    const all = allRealistic();
    expect(all.length).toBe(73); // index 2, sync 6, verify 6, offload 16, restore 16, recover 16, dest-wide 9, alarm-ack 2
    const wrong: string[] = [];
    for (const a of all) for (const b of all) if (conflicts(a, b) !== oracle(a, b)) wrong.push(`${JSON.stringify(a)} vs ${JSON.stringify(b)}: ${conflicts(a, b)}`);
    expect(wrong.slice(0, 5)).toEqual([]);
  });
});
