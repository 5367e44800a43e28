// computeAdvances (DESIGN invariant 3): per-origin prefix advances from per-file outcomes.
// Examples for each rule, then fast-check properties over random manifests and outcomes.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { alignOutcomes, computeAdvances, type Advance } from "../../src/kernel/evidence.ts";
import type { FileOutcome, ManifestEntry } from "../../src/kernel/plugin.ts";

let nextContent = 1n;
const entry = (path: string, originRun: bigint, originNode = "n1"): ManifestEntry => ({
  path,
  size: 1,
  mtimeNs: 0n,
  blake3: path.padEnd(64, "0"),
  contentId: nextContent++,
  originNode,
  originRun,
  status: "present",
});
const ok = (path: string, verifiedAt: bigint, method = "blake3"): FileOutcome => ({ path, ok: true, method, verifiedAt });
const bad = (path: string, reason = "differs"): FileOutcome => ({ path, ok: false, reason });
const outcomes = (...os: FileOutcome[]) => new Map(os.map((o) => [o.path, o]));
const anyMethod = () => true;
const byNode = (adv: Advance[], node: string) => adv.find((a) => a.originNode === node)!;

describe("computeAdvances: examples", () => {
  test("every entry verified: the advance reaches the largest origin run, verified_at is the oldest time", () => {
    const m = [entry("a", 2n), entry("b", 2n), entry("c", 5n)];
    const [a] = computeAdvances(m, outcomes(ok("a", 300n), ok("b", 100n), ok("c", 200n)), anyMethod);
    expect(a).toMatchObject({ originNode: "n1", originRun: 5n, verifiedAt: 100n, method: "blake3", covered: 3 });
    expect(a!.blockedAt).toBeUndefined();
  });

  test("a failure at a later run stops the prefix before it, and names the blocking file", () => {
    const m = [entry("a", 2n), entry("b", 3n), entry("c", 4n)];
    const [a] = computeAdvances(m, outcomes(ok("a", 10n), bad("b", "size differs"), ok("c", 5n)), anyMethod);
    expect(a!.originRun).toBe(2n);
    // c (run 4) is not covered, so its (older) time does not count
    expect(a!.verifiedAt).toBe(10n);
    expect(a!.covered).toBe(1);
    expect(a!.blockedAt).toEqual({ originRun: 3n, path: "b", reason: "size differs" });
  });

  test("a failure in the first run: no advance at all (null), nothing claimed", () => {
    const m = [entry("a", 2n), entry("b", 2n), entry("c", 3n)];
    const [a] = computeAdvances(m, outcomes(ok("a", 10n), bad("b"), ok("c", 10n)), anyMethod);
    expect(a).toMatchObject({ originRun: null, verifiedAt: null, covered: 0, method: "" });
  });

  test("an entry the handler said nothing about counts as not verified", () => {
    const m = [entry("a", 2n), entry("b", 3n)];
    const [a] = computeAdvances(m, outcomes(ok("a", 10n)), anyMethod);
    expect(a!.originRun).toBe(2n);
    expect(a!.blockedAt).toEqual({ originRun: 3n, path: "b", reason: "no outcome reported" });
  });

  test("a method the policy does not accept blocks like a failure", () => {
    const m = [entry("a", 2n), entry("b", 3n)];
    const accepted = (_n: string, method: string) => method !== "size";
    const [a] = computeAdvances(m, outcomes(ok("a", 10n, "sha256"), ok("b", 10n, "size")), accepted);
    expect(a!.originRun).toBe(2n);
    expect(a!.method).toBe("sha256");
    expect(a!.blockedAt?.reason).toContain("method size is not accepted");
  });

  test("methods of the covered entries are listed sorted and joined by +", () => {
    const m = [entry("a", 2n), entry("b", 2n), entry("c", 3n)];
    const [a] = computeAdvances(m, outcomes(ok("a", 1n, "sha256"), ok("b", 1n, "blake3"), ok("c", 1n, "md5")), anyMethod);
    expect(a!.method).toBe("blake3+md5+sha256");
  });

  test("origins advance independently; a failure of one origin does not touch another", () => {
    const m = [entry("a", 2n, "n1"), entry("b", 7n, "n2"), entry("c", 9n, "n2")];
    const adv = computeAdvances(m, outcomes(bad("a"), ok("b", 4n), ok("c", 3n)), anyMethod);
    expect(adv.map((a) => a.originNode)).toEqual(["n1", "n2"]);
    expect(byNode(adv, "n1").originRun).toBeNull();
    expect(byNode(adv, "n2")).toMatchObject({ originRun: 9n, verifiedAt: 3n, covered: 2 });
  });

  test("the policy is asked per origin node", () => {
    const m = [entry("a", 2n, "n1"), entry("b", 2n, "n2")];
    const adv = computeAdvances(m, outcomes(ok("a", 1n), ok("b", 1n)), (node) => node === "n2");
    expect(byNode(adv, "n1").originRun).toBeNull();
    expect(byNode(adv, "n2").originRun).toBe(2n);
  });

  test("an empty manifest yields no advances", () => {
    expect(computeAdvances([], new Map(), anyMethod)).toEqual([]);
  });
});

// ---------- properties ----------

interface Case {
  manifest: ManifestEntry[];
  outcomes: Map<string, FileOutcome>;
  rejected: Set<string>;
}
const METHODS = ["blake3", "sha256", "md5", "size"];
const caseArb: fc.Arbitrary<Case> = fc
  .array(
    fc.record({
      node: fc.constantFrom("n1", "n2", "n3"),
      run: fc.integer({ min: 1, max: 8 }),
      kind: fc.constantFrom("ok", "ok", "ok", "ok", "fail", "absent"),
      method: fc.constantFrom(...METHODS),
      at: fc.integer({ min: 1, max: 1000 }),
    }),
    { minLength: 0, maxLength: 30 },
  )
  .chain((rows) =>
    fc.subarray(METHODS).map((rej) => {
      const manifest: ManifestEntry[] = [];
      const out = new Map<string, FileOutcome>();
      rows.forEach((r, i) => {
        const path = `f${i}`;
        manifest.push(entry(path, BigInt(r.run), r.node));
        if (r.kind === "ok") out.set(path, ok(path, BigInt(r.at), r.method));
        else if (r.kind === "fail") out.set(path, bad(path));
      });
      return { manifest, outcomes: out, rejected: new Set(rej) };
    }),
  );
const acceptedOf = (c: Case) => (_node: string, m: string) => !c.rejected.has(m);
const good = (c: Case, e: ManifestEntry) => {
  const o = c.outcomes.get(e.path);
  return !!o && o.ok && !c.rejected.has(o.method);
};
const le = (a: bigint | null, b: bigint | null) => a === null || (b !== null && a <= b);

describe("computeAdvances: properties", () => {
  test("an advance never covers an entry that was not ok with an accepted method", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        for (const a of computeAdvances(c.manifest, c.outcomes, acceptedOf(c))) {
          if (a.originRun === null) continue;
          for (const e of c.manifest) if (e.originNode === a.originNode && e.originRun <= a.originRun) expect(good(c, e)).toBe(true);
        }
      }),
      { numRuns: 400 },
    );
  });

  test("the advance is maximal: the next origin run in the manifest holds an entry that is not good", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        for (const a of computeAdvances(c.manifest, c.outcomes, acceptedOf(c))) {
          const mine = c.manifest.filter((e) => e.originNode === a.originNode);
          const later = mine.filter((e) => a.originRun === null || e.originRun > a.originRun);
          if (later.length === 0) continue;
          const next = later.reduce((m, e) => (e.originRun < m ? e.originRun : m), later[0]!.originRun);
          expect(mine.some((e) => e.originRun === next && !good(c, e))).toBe(true);
          expect(a.blockedAt?.originRun).toBe(next);
        }
      }),
      { numRuns: 400 },
    );
  });

  test("verified_at is the minimum verification time over the covered entries; covered counts them", () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        for (const a of computeAdvances(c.manifest, c.outcomes, acceptedOf(c))) {
          const covered = c.manifest.filter((e) => e.originNode === a.originNode && a.originRun !== null && e.originRun <= a.originRun);
          expect(a.covered).toBe(covered.length);
          if (a.originRun === null) {
            expect(a.verifiedAt).toBeNull();
            continue;
          }
          let min: bigint | null = null;
          for (const e of covered) {
            const o = c.outcomes.get(e.path) as { verifiedAt: bigint };
            if (min === null || o.verifiedAt < min) min = o.verifiedAt;
          }
          expect(a.verifiedAt).toBe(min);
          const methods = [...new Set(covered.map((e) => (c.outcomes.get(e.path) as { method: string }).method))].sort().join("+");
          expect(a.method).toBe(methods);
        }
      }),
      { numRuns: 400 },
    );
  });

  test("adding a failure (or dropping an outcome) never raises any origin's advance", () => {
    fc.assert(
      fc.property(caseArb, fc.nat(), fc.boolean(), (c, pick, drop) => {
        fc.pre(c.manifest.length > 0);
        const before = computeAdvances(c.manifest, c.outcomes, acceptedOf(c));
        const victim = c.manifest[pick % c.manifest.length]!;
        const worse = new Map(c.outcomes);
        if (drop) worse.delete(victim.path);
        else worse.set(victim.path, bad(victim.path, "injected"));
        const after = computeAdvances(c.manifest, worse, acceptedOf(c));
        expect(after.map((a) => a.originNode)).toEqual(before.map((a) => a.originNode));
        for (const a of after) {
          const b = byNode(before, a.originNode);
          expect(le(a.originRun, b.originRun)).toBe(true);
          // the victim's own origin: if the victim was covered before, the advance now stops below its run
          if (a.originNode === victim.originNode && b.originRun !== null && victim.originRun <= b.originRun) expect(a.originRun === null || a.originRun < victim.originRun).toBe(true);
        }
      }),
      { numRuns: 400 },
    );
  });

  test("the result does not depend on manifest order", () => {
    fc.assert(
      fc.property(caseArb, fc.integer(), (c, seed) => {
        const shuffled = [...c.manifest].sort((x, y) => ((Number(x.contentId) * 7919 + seed) % 101) - ((Number(y.contentId) * 7919 + seed) % 101));
        const strip = (as: Advance[]) => as.map((a) => ({ ...a, blockedAt: a.blockedAt && { originRun: a.blockedAt.originRun } }));
        expect(strip(computeAdvances(shuffled, c.outcomes, acceptedOf(c)))).toEqual(strip(computeAdvances(c.manifest, c.outcomes, acceptedOf(c))));
      }),
      { numRuns: 200 },
    );
  });
});

describe("alignOutcomes: a handler's outcomes lined up with the manifest", () => {
  const m = [entry("a", 1n), entry("b", 1n), entry("c", 1n)];
  test("in manifest order: taken as they are (extra trailing outcomes ignored)", () => {
    const raw = [ok("a", 1n), bad("b"), ok("c", 3n), ok("a", 9n)];
    expect(alignOutcomes(m, raw)).toEqual([raw[0], raw[1], raw[2]]);
  });
  test("any other order: by path, the first outcome for a path wins, paths outside the manifest are ignored, a missing one is undefined", () => {
    const raw = [ok("zzz", 1n), ok("c", 3n), bad("a", "first"), ok("a", 2n), ok("c", 4n)];
    expect(alignOutcomes(m, raw)).toEqual([raw[2], undefined, raw[1]]);
    expect(alignOutcomes(m, [])).toEqual([undefined, undefined, undefined]);
  });
  test("a duplicate inside the manifest-length prefix is not mistaken for order", () => {
    const raw = [ok("a", 1n), ok("a", 2n), ok("b", 3n)];
    expect(alignOutcomes(m, raw)).toEqual([raw[0], raw[2], undefined]);
  });
  test("property: computeAdvances gives the same result from the aligned array as from the map", () => {
    fc.assert(
      fc.property(caseArb, fc.integer(), (c, seed) => {
        // the handler's raw answer in some order, with duplicates after the first and foreign paths
        const raw = [...c.outcomes.values()].sort((x, y) => ((x.path.length * 31 + seed) % 7) - ((y.path.length * 31 + seed) % 7));
        const noisy = [...raw, ok("not-in-manifest", 1n), ...raw.map((o) => bad(o.path, "late duplicate"))];
        const aligned = alignOutcomes(c.manifest, noisy);
        expect(aligned).toEqual(c.manifest.map((e) => c.outcomes.get(e.path)));
        expect(computeAdvances(c.manifest, aligned, acceptedOf(c))).toEqual(computeAdvances(c.manifest, c.outcomes, acceptedOf(c)));
      }),
      { numRuns: 300 },
    );
  });
});
