// decideComponentWrite (DESIGN invariants 3 and 4): the pure choice between advance, re-verify and
// touch for one computed advance against the current component. Examples, then fast-check properties.

import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { decideComponentWrite, type Advance, type ComponentWrite, type LiveComponent } from "../../src/kernel/evidence.ts";

const adv = (originRun: bigint | null, o: Partial<Advance> = {}): Advance => ({ originNode: "n1", originRun, verifiedAt: 50n, method: "blake3", covered: 3, allChecked: true, ...o });
const live = (originRun: bigint, o: Partial<LiveComponent> = {}): LiveComponent => ({ originRun, confirmedRun: 7n, verifiedAt: 40n, ...o });
const RUN = 100n;

describe("decideComponentWrite: examples", () => {
  test("no component yet: a positive value is an advance confirmed by this run; nothing verified writes nothing", () => {
    expect(decideComponentWrite(adv(3n), undefined, RUN)).toEqual({ kind: "advance", advance: adv(3n), confirmedRun: RUN });
    expect(decideComponentWrite(adv(null), undefined, RUN)).toEqual({ kind: "none" });
  });

  test("a higher value on receipts advances but keeps the earlier confirmed_run", () => {
    expect(decideComponentWrite(adv(5n, { allChecked: false }), live(3n), RUN)).toMatchObject({ kind: "advance", confirmedRun: 7n });
  });

  test("an equal value, all content-checked now, re-verifies the prefix; on receipts it only touches", () => {
    expect(decideComponentWrite(adv(3n), live(3n), RUN)).toMatchObject({ kind: "reverify", confirmedRun: RUN, advance: { originRun: 3n } });
    expect(decideComponentWrite(adv(3n, { allChecked: false }), live(3n), RUN)).toEqual({ kind: "touch", refreshTo: null });
  });

  test("a lower value re-verifies the current prefix only when nothing up to it was blocked", () => {
    expect(decideComponentWrite(adv(2n), live(3n), RUN)).toMatchObject({ kind: "reverify", advance: { originRun: 3n } });
    expect(decideComponentWrite(adv(2n, { blockedAt: { originRun: 3n, path: "x", reason: "differs" } }), live(3n), RUN)).toMatchObject({ kind: "touch" });
    expect(decideComponentWrite(adv(2n, { blockedAt: { originRun: 4n, path: "x", reason: "differs" } }), live(3n), RUN)).toMatchObject({ kind: "reverify" });
  });

  test("a touch refreshes verified_at only to a newer oldest check behind the current prefix", () => {
    const receipts = adv(3n, { allChecked: false });
    expect(decideComponentWrite(receipts, live(3n), RUN, () => 45n)).toEqual({ kind: "touch", refreshTo: 45n });
    expect(decideComponentWrite(receipts, live(3n), RUN, () => 40n)).toEqual({ kind: "touch", refreshTo: null });
    expect(decideComponentWrite(receipts, live(3n, { verifiedAt: null }), RUN, () => 1n)).toEqual({ kind: "touch", refreshTo: 1n });
    const asked: bigint[] = [];
    decideComponentWrite(receipts, live(9n), RUN, (upTo) => (asked.push(upTo), null));
    expect(asked).toEqual([9n]);
  });
});

const runArb = fc.bigInt({ min: -1n, max: 12n });
const advArb: fc.Arbitrary<Advance> = fc.record({
  originNode: fc.constant("n1"),
  originRun: fc.option(runArb, { nil: null }),
  verifiedAt: fc.option(fc.bigInt({ min: 1n, max: 100n }), { nil: null }),
  method: fc.constantFrom("blake3", "sha256", "blake3+sha256"),
  covered: fc.nat({ max: 50 }),
  allChecked: fc.boolean(),
  blockedAt: fc.option(fc.record({ originRun: fc.bigInt({ min: 1n, max: 13n }), path: fc.constant("p"), reason: fc.constant("differs") }), { nil: undefined }),
});
const liveArb: fc.Arbitrary<LiveComponent | undefined> = fc.option(
  fc.record({ originRun: fc.bigInt({ min: 0n, max: 12n }), confirmedRun: fc.option(fc.bigInt({ min: 1n, max: 99n }), { nil: null }), verifiedAt: fc.option(fc.bigInt({ min: 1n, max: 100n }), { nil: null }) }),
  { nil: undefined },
);
const behindArb = fc.option(fc.bigInt({ min: 0n, max: 120n }), { nil: null });
const writes = (w: ComponentWrite): w is Extract<ComponentWrite, { advance: Advance }> => w.kind === "advance" || w.kind === "reverify";

describe("decideComponentWrite: properties", () => {
  test("the value never goes down: an advance raises it, a re-verify keeps it, nothing else writes it", () => {
    fc.assert(
      fc.property(advArb, liveArb, behindArb, (a, l, behind) => {
        const w = decideComponentWrite(a, l, RUN, () => behind);
        if (!writes(w)) return;
        expect(w.advance.originRun).not.toBeNull();
        expect(w.advance.originRun! > 0n).toBe(true);
        if (w.kind === "advance") expect(l === undefined || w.advance.originRun! > l.originRun).toBe(true);
        else expect(w.advance.originRun).toBe(l!.originRun);
        // only the value may differ from the computed advance
        expect({ ...w.advance, originRun: a.originRun }).toEqual(a);
      }),
    );
  });

  test("confirmed_run becomes this run only when every covered entry was content-checked now", () => {
    fc.assert(
      fc.property(advArb, liveArb, (a, l) => {
        const w = decideComponentWrite(a, l, RUN);
        if (!writes(w)) return;
        if (a.allChecked) expect(w.confirmedRun).toBe(RUN);
        else {
          expect(w.kind).toBe("advance"); // entries accepted on receipts never re-verify a prefix
          expect(w.confirmedRun).toBe(l?.confirmedRun ?? null);
        }
      }),
    );
  });

  test("without a component it is an advance or nothing; with one, never nothing", () => {
    fc.assert(
      fc.property(advArb, liveArb, (a, l) => {
        const w = decideComponentWrite(a, l, RUN);
        if (l === undefined) expect(w.kind).toBe(a.originRun !== null && a.originRun > 0n ? "advance" : "none");
        else expect(w.kind).not.toBe("none");
      }),
    );
  });

  test("a re-verify needs the whole current prefix unblocked; a blocked one below the value only touches", () => {
    fc.assert(
      fc.property(advArb, liveArb, (a, l) => {
        fc.pre(l !== undefined && a.originRun !== null && a.originRun > 0n && a.originRun < l.originRun);
        const w = decideComponentWrite(a, l, RUN);
        const blockedInside = a.blockedAt !== undefined && a.blockedAt.originRun <= l!.originRun;
        expect(w.kind).toBe(!blockedInside && a.allChecked ? "reverify" : "touch");
      }),
    );
  });

  test("a touch asks for the oldest check behind the current value and refreshes verified_at only forward", () => {
    fc.assert(
      fc.property(advArb, liveArb, behindArb, (a, l, behind) => {
        const asked: bigint[] = [];
        const w = decideComponentWrite(a, l, RUN, (upTo) => (asked.push(upTo), behind));
        if (w.kind !== "touch") return expect(asked).toEqual([]);
        expect(asked).toEqual([l!.originRun]);
        if (w.refreshTo === null) expect(!behind || (l!.verifiedAt !== null && behind <= l!.verifiedAt)).toBe(true);
        else {
          expect(w.refreshTo).toBe(behind!);
          expect(l!.verifiedAt === null || w.refreshTo > l!.verifiedAt).toBe(true);
        }
      }),
    );
  });

  test("applied in sequence, the decisions keep a component's value monotonic", () => {
    fc.assert(
      fc.property(fc.array(advArb, { maxLength: 20 }), (as) => {
        let cur: LiveComponent | undefined;
        let run = 1n;
        for (const a of as) {
          const w = decideComponentWrite(a, cur, ++run);
          const before = cur?.originRun;
          if (writes(w)) cur = { originRun: w.advance.originRun!, confirmedRun: w.confirmedRun, verifiedAt: w.advance.verifiedAt };
          else if (w.kind === "touch" && w.refreshTo !== null) cur = { ...cur!, verifiedAt: w.refreshTo };
          if (before !== undefined) expect(cur!.originRun >= before).toBe(true);
        }
      }),
    );
  });
});
