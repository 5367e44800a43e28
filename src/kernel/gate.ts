// The offload gate (pure): may this present file be deleted locally? Every required destination
// must hold current-epoch, accepted, covering evidence and a good content check of that very
// object made after the row appeared; required destinations must be distinct physical places.

import type { Method } from "./plugin.ts";
import { methodSet } from "./evidence.ts";

export interface GateFile {
  path: string;
  contentId: bigint;
  originNode: string;
  originRun: bigint;
  statusChangedRun: bigint;
}

export interface GateDestination {
  name: string;
  /** Pinned epoch, or null when never initialised. */
  epoch: bigint | null;
  /** Pinned identity: two required destinations pinning the same one are one physical place. */
  identity?: string | null;
  /** Component for the file's origin node (any epoch; the gate checks it). */
  component?: { originRun: bigint; method: string; confirmedRun: bigint | null; epoch: bigint };
  /** Latest check of this destination object (volume, path, content); checkedRun: its last good content check. */
  check?: { ok: boolean; epoch: bigint; method: string | null; reason: string | null; checkedRun: bigint | null };
  /** Refusals added by policy plugins for this component (gate:check). */
  policyRefusals: { reason: string; hint?: string }[];
}

export interface Refusal {
  destination: string;
  code: string;
  reason: string;
  hint: string;
}

export interface GateInput {
  volume: string;
  file: GateFile;
  required: readonly string[];
  destinations: ReadonlyMap<string, GateDestination>;
  /** Policy: may this method count as proof at this destination? */
  accepted(destination: string, method: Method): boolean;
}

/** Returns the per-destination refusals; empty means the file may be offloaded. */
export function gate(i: GateInput): Refusal[] {
  if (i.required.length === 0) return [{ destination: "*", code: "no_policy", reason: `volume ${i.volume} has no offload_requires`, hint: `add offload_requires = ["DEST"] to [volumes.${i.volume}] in the config` }];
  const out: Refusal[] = [];
  const sync = (d: string) => `run \`hoard sync ${i.volume} --to ${d}\``;
  const places = new Map<string, string>(); // pinned identity -> first required destination pinning it
  for (const name of i.required) {
    const d = i.destinations.get(name);
    const r = (code: string, reason: string, hint: string) => out.push({ destination: name, code, reason, hint });
    if (!d || d.epoch === null) {
      r("dest_not_initialised", `destination ${name} is not initialised`, `run \`hoard dest init ${name}\`, then ${sync(name)}`);
      continue;
    }
    if (d.identity) {
      const other = places.get(d.identity);
      if (other !== undefined) {
        r("same_place", `${name} pins the same identity as ${other} (${d.identity}): they are one physical place and count once`, `point destinations.${name} at a different place and initialise it there`);
        continue;
      }
      places.set(d.identity, name);
    }
    const c = d.component;
    const ck = d.check && d.check.epoch === d.epoch ? d.check : undefined;
    if (ck && !ck.ok) {
      r("last_check_failed", `the last check of this file at ${name} failed: ${ck.reason ?? "unknown reason"}`, sync(name));
      continue;
    }
    if (!c || c.epoch !== d.epoch || c.method === "") { // "" = zeroed by `dest reset`: no evidence yet, not a method problem
      if (ck?.ok && ck.method && !i.accepted(name, ck.method)) r("method_not_accepted", `${name} only checked this file by ${ck.method}, which cannot prove its content`, `configure ${name} to compare content hashes (e.g. verify = "download"), then ${sync(name)}`);
      else r("no_evidence", `no verified evidence at ${name} for content from ${i.file.originNode}`, sync(name));
      continue;
    }
    const bad = methodSet(c.method).filter((m) => !i.accepted(name, m));
    if (c.method === "" || bad.length) {
      r("method_not_accepted", `${name}'s evidence was verified by ${c.method || "nothing"}, which policy does not accept as proof of content`, `configure ${name} to compare content hashes, then ${sync(name)}`);
      continue;
    }
    if (c.originRun < i.file.originRun) {
      r("not_covered", `${name}'s evidence covers content up to run ${c.originRun}; this content is from run ${i.file.originRun}`, sync(name));
      continue;
    }
    if (!ck) {
      r("no_content_check", `${name} has no record of verifying this exact content at this path`, sync(name));
      continue;
    }
    if (ck.method && !i.accepted(name, ck.method)) {
      r("method_not_accepted", `${name} last checked this file by ${ck.method}, which cannot prove its content`, `configure ${name} to compare content hashes, then ${sync(name)}`);
      continue;
    }
    if (ck.checkedRun === null || ck.checkedRun < i.file.statusChangedRun) {
      r("not_confirmed", `this file (re)appeared in run ${i.file.statusChangedRun}, after ${name} last checked its content there (run ${ck.checkedRun ?? "never"})`, sync(name));
      continue;
    }
    for (const p of d.policyRefusals) r("policy", p.reason, p.hint ?? sync(name));
  }
  return out;
}
