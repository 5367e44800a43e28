// The evidence vector against a real database (DESIGN invariant 4): monotonic writes, equal-value
// refreshes, rewind and reset as the only ways down, and an insert-only history of every write.

import { describe, expect, test } from "bun:test";
import { HoardError } from "../../src/kernel/errors.ts";
import { component, rewindComponent, resetDestinationComponents, touchComponent, writeAdvance } from "../../src/kernel/vector.ts";
import type { Advance } from "../../src/kernel/evidence.ts";
import { tempDbPerTest } from "../helpers.ts";

const T = tempDbPerTest("hoard-vector-");

const adv = (originRun: bigint | null, verifiedAt: bigint | null = 1000n, method = "blake3", originNode = "n1"): Advance => ({ originNode, originRun, verifiedAt, method, covered: 1, allChecked: true });
interface Hist {
  kind: string;
  old_run: bigint | null;
  new_run: bigint | null;
  method: string | null;
  run: bigint | null;
  epoch: bigint;
  verified_at: bigint | null;
}
const history = (): Hist[] => T.db.all<Hist>("SELECT kind, old_run, new_run, method, run, epoch, verified_at FROM evidence_history ORDER BY id");
const comp = (dest = "nas", node = "n1") => component(T.db, "photos", dest, node)!;
const thrown = (fn: () => unknown): HoardError => {
  try {
    fn();
  } catch (e) {
    return e as HoardError;
  }
  throw new Error("expected a throw");
};

describe("writeAdvance", () => {
  test("the first write creates the component (advance from nothing) and logs it", () => {
    expect(writeAdvance(T.db, "photos", "nas", 1n, 10n, adv(4n, 500n))).toBe("advanced");
    expect(comp()).toMatchObject({ origin_run: 4n, method: "blake3", verified_at: 500n, confirmed_run: 10n, epoch: 1n, source: "local" });
    expect(history()).toEqual([{ kind: "advance", old_run: null, new_run: 4n, method: "blake3", run: 10n, epoch: 1n, verified_at: 500n }]);
  });

  test("a higher value advances; history records old and new", () => {
    writeAdvance(T.db, "photos", "nas", 1n, 10n, adv(4n, 500n));
    expect(writeAdvance(T.db, "photos", "nas", 1n, 11n, adv(7n, 600n, "sha256"))).toBe("advanced");
    expect(comp()).toMatchObject({ origin_run: 7n, method: "sha256", verified_at: 600n, confirmed_run: 11n });
    expect(history()[1]).toMatchObject({ kind: "advance", old_run: 4n, new_run: 7n, run: 11n });
  });

  test("a lower value is refused with the current and the attempted value; nothing changes", () => {
    writeAdvance(T.db, "photos", "nas", 1n, 10n, adv(7n, 500n));
    const before = comp();
    const e = thrown(() => writeAdvance(T.db, "photos", "nas", 1n, 11n, adv(3n, 900n)));
    expect(e).toBeInstanceOf(HoardError);
    expect(e.kind).toBe("refused");
    expect(e.exitCode).toBe(3);
    expect(e.code).toBe("evidence_lower");
    expect(e.message).toContain("from run 7 to 3");
    expect(e.hint).toContain("hoard evidence rewind photos nas --origin n1 --to 3 --yes");
    expect(comp()).toEqual(before);
    expect(history()).toHaveLength(1);
  });

  test("an equal value is a reverify: verified_at and confirmed_run are refreshed, history says reverify", () => {
    writeAdvance(T.db, "photos", "nas", 1n, 10n, adv(7n, 500n));
    const before = comp();
    expect(writeAdvance(T.db, "photos", "nas", 1n, 12n, adv(7n, 800n))).toBe("reverified");
    const after = comp();
    expect(after).toMatchObject({ origin_run: 7n, verified_at: 800n, confirmed_run: 12n });
    expect(after.updated_at).toBeGreaterThanOrEqual(before.updated_at);
    expect(history()[1]).toEqual({ kind: "reverify", old_run: 7n, new_run: 7n, method: "blake3", run: 12n, epoch: 1n, verified_at: 800n });
  });

  test("a null advance (nothing verified) writes nothing, not even history", () => {
    writeAdvance(T.db, "photos", "nas", 1n, 10n, adv(7n, 500n));
    const before = comp();
    expect(writeAdvance(T.db, "photos", "nas", 1n, 11n, adv(null, null))).toBe("unchanged");
    expect(comp()).toEqual(before);
    expect(history()).toHaveLength(1);
  });

  test("touchComponent (a run that did not verify the whole prefix) moves only updated_at", async () => {
    writeAdvance(T.db, "photos", "nas", 1n, 10n, adv(7n, 500n));
    const before = comp();
    await Bun.sleep(2);
    touchComponent(T.db, "photos", "nas", "n1");
    const after = comp();
    expect(after.updated_at).toBeGreaterThan(before.updated_at);
    expect({ ...after, updated_at: 0n }).toEqual({ ...before, updated_at: 0n });
    expect(history()).toHaveLength(1);
  });

  test("components are independent per destination and per origin node", () => {
    writeAdvance(T.db, "photos", "nas", 1n, 10n, adv(7n));
    writeAdvance(T.db, "photos", "cloud", 1n, 11n, adv(2n));
    writeAdvance(T.db, "photos", "nas", 1n, 12n, adv(3n, 1n, "blake3", "n2"));
    expect(comp("nas").origin_run).toBe(7n);
    expect(comp("cloud").origin_run).toBe(2n);
    expect(comp("nas", "n2").origin_run).toBe(3n);
    // a lower write on one component is refused even though another component is lower
    expect(thrown(() => writeAdvance(T.db, "photos", "nas", 1n, 13n, adv(5n))).code).toBe("evidence_lower");
  });
});

describe("rewind and reset: the only ways down, both in history", () => {
  test("rewind lowers, clears confirmed_run, keeps the method, logs kind rewind", () => {
    writeAdvance(T.db, "photos", "nas", 1n, 10n, adv(7n, 500n));
    expect(rewindComponent(T.db, "photos", "nas", "n1", 3n, 20n)).toEqual({ from: 7n, to: 3n });
    expect(comp()).toMatchObject({ origin_run: 3n, confirmed_run: null, method: "blake3" });
    expect(history().at(-1)).toMatchObject({ kind: "rewind", old_run: 7n, new_run: 3n, run: 20n, epoch: 1n });
    // after a rewind an advance from the lower value is accepted again
    expect(writeAdvance(T.db, "photos", "nas", 1n, 21n, adv(5n))).toBe("advanced");
  });

  test("rewind cannot raise, and needs an existing component", () => {
    writeAdvance(T.db, "photos", "nas", 1n, 10n, adv(7n));
    const up = thrown(() => rewindComponent(T.db, "photos", "nas", "n1", 9n, 20n));
    expect(up.code).toBe("rewind_up");
    expect(up.message).toContain("current run 7, asked 9");
    expect(thrown(() => rewindComponent(T.db, "photos", "nas", "ghost", 1n, 20n)).code).toBe("no_component");
    expect(comp().origin_run).toBe(7n);
    expect(history()).toHaveLength(1);
  });

  test("reset zeroes every component of that destination into the new epoch (other destinations untouched)", () => {
    writeAdvance(T.db, "photos", "nas", 1n, 10n, adv(7n, 500n));
    writeAdvance(T.db, "music", "nas", 1n, 11n, adv(4n, 500n));
    writeAdvance(T.db, "photos", "cloud", 1n, 12n, adv(6n, 500n));
    expect(resetDestinationComponents(T.db, "nas", 2n, 30n)).toBe(2);
    expect(comp()).toMatchObject({ origin_run: 0n, method: "", verified_at: null, confirmed_run: null, epoch: 2n });
    expect(component(T.db, "music", "nas", "n1")).toMatchObject({ origin_run: 0n, epoch: 2n });
    expect(comp("cloud")).toMatchObject({ origin_run: 6n, epoch: 1n, confirmed_run: 12n });
    const resets = history().filter((h) => h.kind === "reset");
    expect(resets).toHaveLength(2);
    expect(resets.every((h) => h.new_run === 0n && h.epoch === 2n && h.run === 30n)).toBe(true);
    expect(resets.map((h) => h.old_run).sort()).toEqual([4n, 7n]);
    // in the new epoch the component rises again from zero
    expect(writeAdvance(T.db, "photos", "nas", 2n, 31n, adv(2n, 900n))).toBe("advanced");
    expect(history().at(-1)).toMatchObject({ kind: "advance", old_run: 0n, new_run: 2n, epoch: 2n });
  });

  test("a component left in an older epoch does not block a lower value in the current epoch", () => {
    writeAdvance(T.db, "photos", "nas", 1n, 10n, adv(7n));
    expect(writeAdvance(T.db, "photos", "nas", 2n, 11n, adv(3n))).toBe("advanced");
    expect(comp()).toMatchObject({ origin_run: 3n, epoch: 2n });
  });

  test("every applied write appears in history exactly once, in order", () => {
    writeAdvance(T.db, "photos", "nas", 1n, 10n, adv(3n));
    writeAdvance(T.db, "photos", "nas", 1n, 11n, adv(3n));
    rewindComponent(T.db, "photos", "nas", "n1", 1n, 12n);
    resetDestinationComponents(T.db, "nas", 2n, 13n);
    writeAdvance(T.db, "photos", "nas", 2n, 14n, adv(5n));
    expect(history().map((h) => `${h.kind}:${h.old_run}->${h.new_run}@${h.run}`)).toEqual(["advance:null->3@10", "reverify:3->3@11", "rewind:3->1@12", "reset:1->0@13", "advance:0->5@14"]);
  });
});

describe("evidence_history is insert-only", () => {
  test("UPDATE and DELETE raise and change nothing", () => {
    writeAdvance(T.db, "photos", "nas", 1n, 10n, adv(3n));
    writeAdvance(T.db, "photos", "nas", 1n, 11n, adv(5n));
    const before = history();
    expect(() => T.db.run("UPDATE evidence_history SET new_run = 99")).toThrow(/insert-only/);
    expect(() => T.db.run("UPDATE evidence_history SET kind = 'rewind' WHERE id = 1")).toThrow(/insert-only/);
    expect(() => T.db.run("DELETE FROM evidence_history WHERE id = 1")).toThrow(/insert-only/);
    expect(() => T.db.run("DELETE FROM evidence_history")).toThrow(/insert-only/);
    expect(history()).toEqual(before);
  });
});
