// The staleness policy end to end: fresh, stale and never-verified components at the gate,
// per-destination limits, re-verification honesty, `evidence expire` and `status --check`.

import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fsWorld, type World } from "../helpers.ts";
import { limitFor, staleness } from "../../plugins/staleness/index.ts";
import { ageEvidence, comp, DAY, exec, expireEvents, ok, staleWorld } from "./helpers.ts";

setDefaultTimeout(180_000); // every step runs the real CLI as a child process

const worlds: World[] = [];
const track = (w: World) => (worlds.push(w), w);
afterEach(() => {
  for (const w of worlds.splice(0)) w.cleanup();
});

const nowNs = () => BigInt(Date.now()) * 1_000_000n;
const evidence = (w: World, dest = "nas") => {
  const r = w.hoard("evidence", "--json");
  ok(r);
  return (r.json.evidence as any[]).find((e) => e.destination === dest);
};

/** index + sync, both must succeed */
function synced(w: World) {
  ok(w.hoard("index", "photos"));
  ok(w.hoard("sync", "photos"));
}

describe("staleness policy (pure)", () => {
  const view = (verifiedAt: bigint | null) => ({ volume: "v", destination: "d", originNode: "n", originRun: 1n, method: "blake3", verifiedAt, confirmedRun: 1n, epoch: 1n });
  test("a destination's own limit beats the top-level default; none means unlimited", () => {
    expect(limitFor({ max_evidence_age: 5n }, { max_evidence_age: 9n })).toBe(5n);
    expect(limitFor({}, { max_evidence_age: 9n })).toBe(9n);
    expect(limitFor({}, {})).toBeNull();
  });
  test("fresh up to the limit, stale past it, never verified is infinitely old", () => {
    expect(staleness(view(100n), 50n, 150n)).toEqual({ limit: 50n, age: 50n, expiresAt: 150n, stale: false });
    expect(staleness(view(100n), 50n, 151n).stale).toBe(true);
    expect(staleness(view(null), 50n, 0n)).toEqual({ limit: 50n, age: null, expiresAt: null, stale: true });
  });
});

describe("config", () => {
  test("max_evidence_age must be a positive duration, at the top level and per destination", () => {
    const w = track(staleWorld({ root: "soon", dests: { nas: "0s" } }));
    const r = w.hoard("evidence");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("max_evidence_age: invalid duration");
    expect(r.stderr).toContain("destinations.nas.max_evidence_age: must be longer than zero");
  });
});

describe("gate", () => {
  test("fresh evidence satisfies the gate; stale is refused naming age, limit and fix; never verified is infinitely old", () => {
    const w = track(staleWorld({ root: "1d" }));
    synced(w);
    // fresh: `hoard evidence` shows when it expires
    let e = evidence(w);
    expect(e.stale).toBe(false);
    expect(Date.parse(e.expires_at) - Date.parse(e.verified_at)).toBe(86_400_000);
    expect(e.expires_in_s).toBeGreaterThan(86_000);
    const human = w.hoard("evidence");
    expect(human.stdout).toContain("EXPIRES");
    expect(human.stdout).toMatch(/in 23h 5\dm/);
    const d = w.hoard("offload", "photos", ".", "--dry-run", "--json");
    ok(d);
    expect(d.json.counts.offloadable).toBe(3);

    // stale: older than the limit
    ageEvidence(w, 2n * DAY);
    e = evidence(w);
    expect(e.stale).toBe(true);
    expect(e.expires_in_s).toBeLessThan(-86_000);
    const r = w.hoard("offload", "photos", ".", "--json");
    ok(r);
    expect(r.json.counts.offloaded).toBe(0);
    expect(r.json.refusals).toHaveLength(1);
    expect(r.json.refusals[0].reason).toMatch(/was last verified 2d( 0h)? ago, older than max_evidence_age 1d/);
    expect(r.json.refusals[0].hint).toBe("run `hoard verify nas`");
    expect(existsSync(w.path("vol/a.txt"))).toBe(true);
    expect(w.hoard("offload", "photos", ".").stdout).toContain("next: run `hoard verify nas`");

    // never verified: no verification time at all
    exec(w, "UPDATE evidence SET verified_at = NULL");
    const hv = w.hoard("evidence", "--json");
    expect(hv.json.evidence[0].stale).toBe(true);
    expect(hv.json.evidence[0].expires_at).toBeNull();
    const n = w.hoard("offload", "photos", ".", "--dry-run", "--json");
    expect(n.json.counts.offloadable).toBe(0);
    expect(n.json.refusals[0].reason).toContain("has never been verified, older than max_evidence_age 1d");
  });

  test("a destination's own max_evidence_age overrides the top-level default", () => {
    const w = track(staleWorld({ root: "30d", dests: { nas: "1d" }, extraDests: ["cloud"], require: ["nas", "cloud"] }));
    synced(w);
    ageEvidence(w, 2n * DAY, ["nas", "cloud"]);
    expect(evidence(w, "nas").stale).toBe(true);
    const cloud = evidence(w, "cloud");
    expect(cloud.stale).toBe(false);
    expect(Date.parse(cloud.expires_at) - Date.parse(cloud.verified_at)).toBe(30 * 86_400_000);
    const r = w.hoard("offload", "photos", ".", "--dry-run", "--json");
    expect(r.json.refusals.map((g: any) => g.destination)).toEqual(["nas"]);
  });
});

describe("only real re-verification makes evidence fresh", () => {
  test("a sync of unchanged files accepted on receipts refreshes nothing: still stale (real clock)", async () => {
    const w = track(staleWorld({ dests: { nas: "1s" } }));
    synced(w);
    const before = comp(w)!;
    await Bun.sleep(1300);
    const s = w.hoard("sync", "photos", "--json");
    ok(s);
    expect(s.json.results[0].counts.transferred).toBe(0);
    expect(s.json.results[0].counts.unchanged).toBe(3);
    expect(s.json.results[0].evidence[0].result).toBe("unchanged");
    const after = comp(w)!;
    expect(after.verified_at).toBe(before.verified_at!); // a receipt is not a verification: old time kept
    expect(after.confirmed_run).toBe(before.confirmed_run!);
    expect(evidence(w).stale).toBe(true);
    const t = nowNs();
    ok(w.hoard("verify", "nas"));
    expect(comp(w)!.verified_at!).toBeGreaterThanOrEqual(t);
  });

  test("a dead destination stops satisfying the gate; failed verifies change nothing; a real verify does", () => {
    const w = track(staleWorld({ root: "1d" }));
    synced(w);
    ageEvidence(w, 2n * DAY);
    const aged = comp(w)!.verified_at;

    // a sync of unchanged files is not a re-verification
    ok(w.hoard("sync", "photos"));
    expect(comp(w)!.verified_at).toBe(aged);
    expect(evidence(w).stale).toBe(true);

    // the destination is gone: verify fails, nothing gets fresher
    renameSync(w.path("nas"), w.path("nas-away"));
    expect(w.hoard("verify", "nas").code).toBe(1);
    expect(comp(w)!.verified_at).toBe(aged);
    renameSync(w.path("nas-away"), w.path("nas"));

    // back, but one file is corrupt: verify is partial, the prefix is not verified again
    const corrupt = join(w.path("nas"), "photos", "a.txt");
    writeFileSync(corrupt, "ALPHA\n");
    const v = w.hoard("verify", "nas", "--json");
    expect(v.code).toBe(4);
    expect(comp(w)!.verified_at).toBe(aged);
    expect(evidence(w).stale).toBe(true);
    const d = w.hoard("offload", "photos", "dir/b.txt", "--dry-run", "--json");
    expect(d.json.counts.offloadable).toBe(0);
    expect(d.json.refusals[0].reason).toContain("older than max_evidence_age 1d");

    // repaired and really verified again: fresh, and the gate opens
    writeFileSync(corrupt, "alpha\n");
    const t = nowNs();
    ok(w.hoard("verify", "nas"));
    expect(comp(w)!.verified_at!).toBeGreaterThanOrEqual(t);
    expect(evidence(w).stale).toBe(false);
    const off = w.hoard("offload", "photos", ".", "--json");
    ok(off);
    expect(off.json.counts.offloaded).toBe(3);
  });
});

describe("hoard evidence expire", () => {
  test("records one expire event per crossing; idempotent; again only after a refresh crossed again", () => {
    const w = track(staleWorld({ root: "1d" }));
    synced(w);
    const none = w.hoard("evidence", "expire", "--json");
    ok(none);
    expect(none.json).toMatchObject({ checked: 1, stale: 0, recorded: 0 });

    ageEvidence(w, 2n * DAY);
    const dry = w.hoard("evidence", "expire", "--dry-run", "--json");
    ok(dry);
    expect(dry.json.components[0].result).toBe("would-record");
    expect(expireEvents(w)).toHaveLength(0);

    const first = w.hoard("evidence", "expire", "--json");
    ok(first);
    expect(first.json.recorded).toBe(1);
    const ev = expireEvents(w);
    expect(ev).toHaveLength(1);
    expect(ev[0]).toMatchObject({ volume: "photos", destination: "nas", origin_node: "testnode" });
    expect(ev[0]!.verified_at).toBe(comp(w)!.verified_at!);
    expect(ev[0]!.note).toContain("max_evidence_age 1d");

    const second = w.hoard("evidence", "expire", "--json");
    ok(second);
    expect(second.json.recorded).toBe(0);
    expect(second.json.components[0].result).toBe("already-recorded");
    // a sync of unchanged files does not refresh: still the same crossing
    ok(w.hoard("sync", "photos"));
    expect(w.hoard("evidence", "expire", "--json").json.recorded).toBe(0);
    expect(expireEvents(w)).toHaveLength(1);

    // refreshed: nothing to expire; aged past the limit again: a new crossing
    ok(w.hoard("verify", "nas"));
    expect(w.hoard("evidence", "expire", "--json").json.stale).toBe(0);
    ageEvidence(w, 2n * DAY);
    const third = w.hoard("evidence", "expire");
    ok(third);
    expect(third.stdout).toContain("1 expire events recorded");
    expect(expireEvents(w)).toHaveLength(2);
  });
});

describe("hoard status --check", () => {
  test("exit 0 when protection is in place, 4 (with problems) when evidence is stale", () => {
    const w = track(staleWorld({ root: "1d" }));
    synced(w);
    const good = w.hoard("status", "--check", "--json");
    ok(good);
    expect(good.json.problems).toEqual([]);
    ageEvidence(w, 2n * DAY);
    const bad = w.hoard("status", "--check", "--json");
    expect(bad.code).toBe(4);
    expect(bad.json.problems).toHaveLength(1);
    expect(bad.json.problems[0]).toMatchObject({ volume: "photos", destination: "nas", code: "stale_evidence", hint: "run `hoard verify nas`" });
    // without --check the same report exits 0
    expect(w.hoard("status").code).toBe(0);
    // -q: nothing on stdout, only the exit code
    const quiet = w.hoard("status", "--check", "-q");
    expect(quiet.code).toBe(4);
    expect(quiet.stdout).toBe("");
  });

  test("no limit: never stale; a partial last sync and a standing alarm exit 4; a good sync returns to 0", () => {
    const w = track(fsWorld());
    synced(w);
    // without any max_evidence_age, old evidence never goes stale
    ageEvidence(w, 400n * DAY);
    const e = evidence(w);
    expect(e.stale).toBe(false);
    expect(e.expires_at).toBeNull();
    ok(w.hoard("status", "--check"));
    // the copy at nas is damaged and the local file changed (same size) since indexing: the
    // re-transfer cannot be verified against the index → partial
    writeFileSync(join(w.path("nas"), "photos", "a.txt"), "alpha?");
    writeFileSync(w.path("vol/a.txt"), "ALPHA\n");
    expect(w.hoard("sync", "photos").code).toBe(4);
    const p = w.hoard("status", "--check", "--json");
    expect(p.code).toBe(4);
    expect(p.json.problems.map((x: any) => x.code).sort()).toEqual(["last_sync_partial", "object_check_failed"]);
    writeFileSync(w.path("vol/a.txt"), "alpha\n");
    ok(w.hoard("sync", "photos"));
    ok(w.hoard("status", "--check"));

    // an offloaded file vanishes at the destination: alarm
    ok(w.hoard("offload", "photos", "dir/b.txt"));
    renameSync(join(w.path("nas"), "photos", "dir", "b.txt"), w.path("b-away"));
    expect(w.hoard("sync", "photos").code).toBe(4);
    const a = w.hoard("status", "--check", "--json");
    expect(a.code).toBe(4);
    expect(a.json.problems.map((x: any) => x.code).sort()).toEqual(["alarm", "last_sync_partial", "object_check_failed"]);
    const human = w.hoard("status", "--check");
    expect(human.stdout).toContain("PROBLEM photos → nas: 1 offloaded file is not safe at nas (e.g. dir/b.txt)");
    renameSync(w.path("b-away"), join(w.path("nas"), "photos", "dir", "b.txt"));
    ok(w.hoard("sync", "photos"));
    const back = w.hoard("status", "--check");
    ok(back);
    expect(back.stdout).toContain("check: ok");
  });

  test("a required destination that was never initialised is a problem", () => {
    const w = track(fsWorld({ destInit: false }));
    ok(w.hoard("index", "photos"));
    const r = w.hoard("status", "--check", "--json");
    expect(r.code).toBe(4);
    expect(r.json.problems[0].code).toBe("dest_not_initialised");
  });
});
