// gate (DESIGN invariant 5): the pure offload decision. One passing baseline, then each refusal
// code by breaking exactly one condition of that baseline; per-destination reasons and hints.

import { describe, expect, test } from "bun:test";
import { gate, type GateDestination, type GateInput } from "../../src/kernel/gate.ts";

const FILE = { path: "dir/a.jpg", contentId: 7n, originNode: "n1", originRun: 5n, statusChangedRun: 6n };

/** A destination whose evidence covers FILE: epoch 2, component up to run 9 confirmed in run 10, the object content-checked ok in run 10. */
const goodDest = (name: string, over: Partial<GateDestination> = {}): GateDestination => ({
  name,
  epoch: 2n,
  component: { originRun: 9n, method: "blake3", confirmedRun: 10n, epoch: 2n },
  check: { ok: true, epoch: 2n, method: "blake3", reason: null, checkedRun: 10n },
  identity: `id-${name}`,
  policyRefusals: [],
  ...over,
});
const input = (dests: GateDestination[], over: Partial<GateInput> = {}): GateInput => ({
  volume: "photos",
  file: FILE,
  required: dests.map((d) => d.name),
  destinations: new Map(dests.map((d) => [d.name, d])),
  accepted: (_d, m) => ["blake3", "sha256", "md5", "sha1"].includes(m),
  ...over,
});
const codes = (i: GateInput) => gate(i).map((r) => `${r.destination}:${r.code}`);

describe("gate", () => {
  test("baseline: every condition holds, the file may be offloaded", () => {
    expect(gate(input([goodDest("nas"), goodDest("cloud")]))).toEqual([]);
  });

  test("boundaries are inclusive: component run = origin run and the object's check run = status-changed run pass", () => {
    const d = goodDest("nas", { component: { originRun: 5n, method: "blake3", confirmedRun: 6n, epoch: 2n }, check: { ok: true, epoch: 2n, method: "blake3", reason: null, checkedRun: 6n } });
    expect(gate(input([d]))).toEqual([]);
  });

  test("no_policy: an empty offload_requires refuses everything", () => {
    const r = gate(input([], { required: [] }));
    expect(r).toHaveLength(1);
    expect(r[0]).toMatchObject({ destination: "*", code: "no_policy" });
    expect(r[0]!.hint).toContain("offload_requires");
  });

  test("dest_not_initialised: a required destination never pinned (or unknown)", () => {
    const r = gate(input([goodDest("nas", { epoch: null })]));
    expect(r.map((x) => x.code)).toEqual(["dest_not_initialised"]);
    expect(r[0]!.hint).toContain("hoard dest init nas");
    const unknown = gate(input([], { required: ["ghost"] }));
    expect(unknown.map((x) => `${x.destination}:${x.code}`)).toEqual(["ghost:dest_not_initialised"]);
  });

  test("last_check_failed: the latest check of this content in the current epoch failed, even with covering evidence", () => {
    const r = gate(input([goodDest("nas", { check: { ok: false, epoch: 2n, method: null, reason: "content at nas differs", checkedRun: 3n } })]));
    expect(r.map((x) => x.code)).toEqual(["last_check_failed"]);
    expect(r[0]!.reason).toContain("content at nas differs");
    expect(r[0]!.hint).toContain("hoard sync photos --to nas");
  });

  test("a failed check from an older epoch is ignored (the content check is then absent: no_content_check)", () => {
    const r = gate(input([goodDest("nas", { check: { ok: false, epoch: 1n, method: null, reason: "old", checkedRun: null } })]));
    expect(r.map((x) => x.code)).toEqual(["no_content_check"]);
  });

  test("no_evidence: no component for the file's origin, or one from an older epoch", () => {
    expect(codes(input([goodDest("nas", { component: undefined })]))).toEqual(["nas:no_evidence"]);
    const old = goodDest("nas", { component: { originRun: 9n, method: "blake3", confirmedRun: 10n, epoch: 1n } });
    const r = gate(input([old]));
    expect(r.map((x) => x.code)).toEqual(["no_evidence"]);
    expect(r[0]!.reason).toContain("from n1");
  });

  test("no_evidence (not a method problem) for a component zeroed by a destination reset", () => {
    const zeroed = goodDest("nas", { component: { originRun: 0n, method: "", confirmedRun: null, epoch: 2n }, check: undefined });
    const r = gate(input([zeroed]));
    expect(r.map((x) => x.code)).toEqual(["no_evidence"]);
    expect(r[0]!.hint).toContain("hoard sync photos --to nas");
  });

  test("method_not_accepted: the component's methods include one the policy rejects", () => {
    const d = goodDest("nas", { component: { originRun: 9n, method: "blake3+size", confirmedRun: 10n, epoch: 2n } });
    const r = gate(input([d]));
    expect(r.map((x) => x.code)).toEqual(["method_not_accepted"]);
    expect(r[0]!.reason).toContain("blake3+size");
  });

  test("method_not_accepted: no component, but the content was only checked by a weak method", () => {
    const d = goodDest("nas", { component: undefined, check: { ok: true, epoch: 2n, method: "size", reason: null, checkedRun: 10n } });
    const r = gate(input([d]));
    expect(r.map((x) => x.code)).toEqual(["method_not_accepted"]);
    expect(r[0]!.reason).toContain("size");
  });

  test("the policy is asked per destination", () => {
    const i = input([goodDest("nas"), goodDest("cloud")], { accepted: (d, m) => d === "nas" && m === "blake3" });
    expect(codes(i)).toEqual(["cloud:method_not_accepted"]);
  });

  test("not_covered: the component stops before the file's origin run", () => {
    const d = goodDest("nas", { component: { originRun: 4n, method: "blake3", confirmedRun: 10n, epoch: 2n } });
    const r = gate(input([d]));
    expect(r.map((x) => x.code)).toEqual(["not_covered"]);
    expect(r[0]!.reason).toContain("up to run 4");
    expect(r[0]!.reason).toContain("run 5");
  });

  test("not_confirmed: the file (re)appeared after the last content check of its object at the destination", () => {
    const d = goodDest("nas", { check: { ok: true, epoch: 2n, method: "blake3", reason: null, checkedRun: 5n } });
    const r = gate(input([d]));
    expect(r.map((x) => x.code)).toEqual(["not_confirmed"]);
    expect(r[0]!.reason).toContain("run 6");
    const never = goodDest("nas", { check: { ok: true, epoch: 2n, method: "blake3", reason: null, checkedRun: null } });
    expect(gate(input([never]))[0]!.reason).toContain("never");
    // a component confirmed long ago does not matter: receipts never refresh it, the object's check decides
    expect(gate(input([goodDest("nas", { component: { originRun: 9n, method: "blake3", confirmedRun: 1n, epoch: 2n } })]))).toEqual([]);
  });

  test("method_not_accepted: the object's last check used a weak method, even with good component evidence", () => {
    const d = goodDest("nas", { check: { ok: true, epoch: 2n, method: "size", reason: null, checkedRun: 10n } });
    expect(codes(input([d]))).toEqual(["nas:method_not_accepted"]);
  });

  test("same_place: two required destinations pinning one identity count once", () => {
    const i = input([goodDest("nas", { identity: "X" }), goodDest("usb", { identity: "X" })]);
    const r = gate(i);
    expect(r.map((x) => `${x.destination}:${x.code}`)).toEqual(["usb:same_place"]);
    expect(r[0]!.reason).toContain("nas");
  });

  test("no_content_check: covering evidence but no record of this exact content at the destination", () => {
    expect(codes(input([goodDest("nas", { check: undefined })]))).toEqual(["nas:no_content_check"]);
  });

  test("policy: refusals added by policy plugins are passed through with their hints (or a sync hint)", () => {
    const d = goodDest("nas", { policyRefusals: [{ reason: "evidence is 40d old (max 30d)", hint: "run `hoard verify nas`" }, { reason: "second opinion" }] });
    const r = gate(input([d]));
    expect(r.map((x) => x.code)).toEqual(["policy", "policy"]);
    expect(r[0]).toMatchObject({ destination: "nas", reason: "evidence is 40d old (max 30d)", hint: "run `hoard verify nas`" });
    expect(r[1]!.hint).toContain("hoard sync photos --to nas");
  });

  test("reasons are per destination: only the destination that fails is named", () => {
    const i = input([goodDest("nas"), goodDest("cloud", { component: undefined })]);
    const r = gate(i);
    expect(r).toHaveLength(1);
    expect(r[0]!.destination).toBe("cloud");
    expect(r[0]!.hint).toContain("--to cloud");
    expect(`${r[0]!.reason} ${r[0]!.hint}`).not.toContain("nas");
  });

  test("several failing destinations each get their own refusal", () => {
    const i = input([goodDest("nas", { epoch: null }), goodDest("cloud", { check: undefined }), goodDest("tape")]);
    expect(codes(i)).toEqual(["nas:dest_not_initialised", "cloud:no_content_check"]);
  });
});
