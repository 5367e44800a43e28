// Preflight facts: the rclone version, the hash types the destination stores (`backend features`),
// and the verification plan chosen from them (a stored hash, BLAKE3 by download, or size only).

import type { SpawnResult } from "../../src/kernel/plugin.ts";
import { failureCause, unreachableHint } from "./cause.ts";
import type { Rclone } from "./run.ts";

export type HashAlgo = "blake3" | "sha256" | "sha1" | "md5";
/** The hashes hoard can compute and compare, in order of preference. */
export const HASH_PREFERENCE: HashAlgo[] = ["blake3", "sha256", "sha1", "md5"];

export type Plan =
  | { mode: "hash"; method: HashAlgo; hash: HashAlgo }
  | { mode: "download"; method: "blake3" }
  | { mode: "size"; method: "size" };

export interface Preflight {
  version: string;
  versionParts: [number, number, number];
  hashes: string[];
  plan: Plan;
  warnings: string[];
  /** The backend computes hashes by reading the data (local, sftp): worth keeping receipts. */
  slowHash: boolean;
  /** Reading an object's modtime costs a request per object (S3 and friends). */
  slowModTime: boolean;
  /** The destination is this machine's file system (rclone's local backend). */
  isLocal: boolean;
}

/**
 * Whether receipts pay off: reading back is always dearer than a listing with modtimes; a
 * stored hash is only worth skipping when computing it reads the data and modtimes are cheap.
 */
export const useReceipts = (p: Preflight): boolean => p.plan.mode === "download" || (p.plan.mode === "hash" && p.slowHash && !p.slowModTime);

/** "rclone v1.60.1-DEV" -> [1, 60, 1]. */
export function parseVersion(out: string): { version: string; parts: [number, number, number] } | undefined {
  const m = /rclone\s+v?(\d+)\.(\d+)(?:\.(\d+))?([^\s]*)/.exec(out);
  if (!m) return undefined;
  const parts: [number, number, number] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
  return { version: `${parts.join(".")}${m[4] ?? ""}`, parts };
}

export const atLeast = (v: [number, number, number], want: [number, number, number]): boolean => {
  for (let i = 0; i < 3; i++) if (v[i] !== want[i]) return v[i]! > want[i]!;
  return true;
};

/** The loud warning for a destination that can only be checked by size. */
export function sizeOnlyWarning(dest: string): string {
  return `destination ${dest} stores no hash hoard can compare; evidence will be size-only and cannot satisfy the offload gate; set verify = "download"`;
}

/** Choose how to verify: a stored hash (best first), else BLAKE3 by download, else size. */
export function choosePlan(hashes: string[], version: [number, number, number], verify: "hash" | "download"): Plan {
  const have = new Set(hashes.map((h) => h.toLowerCase()));
  for (const h of HASH_PREFERENCE) {
    if (!have.has(h)) continue;
    if (h === "blake3" && !atLeast(version, [1, 71, 0])) continue;
    return { mode: "hash", method: h, hash: h };
  }
  if (verify === "download") return { mode: "download", method: "blake3" };
  return { mode: "size", method: "size" };
}

/** A failed `backend features`: a connection or login problem by its cause, else the remote's configuration. */
function featuresHint(stderr: string): string {
  const cause = failureCause(stderr);
  return cause === "other" ? "check the remote name, its configuration (rclone.conf or RCLONE_CONFIG_* variables) and that it is reachable" : unreachableHint(cause);
}

const isResult = (x: unknown): x is SpawnResult => typeof x === "object" && x !== null && "code" in x && "stdout" in x;

/** Run `rclone version` and `rclone backend features <root>`; throws a failure when either fails. */
export async function preflight(rc: Rclone, root: string, dest: string, verify: "hash" | "download", fail: (code: string, msg: string, hint?: string) => Error): Promise<Preflight> {
  // both at once (each is an rclone start-up); the version verdict still comes first
  const [ver, feat] = await Promise.all([rc.run(["version"]), rc.run(["backend", "features", root]).catch((e: unknown) => e)]);
  const parsed = ver.code === 0 ? parseVersion(ver.stdout) : undefined;
  if (!parsed)
    throw fail("rclone_version", rc.describeFailure("version", ver) + (ver.code === 0 ? `: unrecognised output ${JSON.stringify(ver.stdout.slice(0, 80))}` : ""), `check that ${rc.binary} is rclone`);
  if (!isResult(feat)) throw feat;
  if (feat.code !== 0)
    throw fail("rclone_features", `${dest}: ${rc.describeFailure(`backend features ${root}`, feat)}`, featuresHint(feat.stderr));
  let hashes: string[];
  let slowHash = false;
  let slowModTime = false;
  let isLocal = false;
  try {
    const j = JSON.parse(feat.stdout);
    hashes = Array.isArray(j?.Hashes) ? j.Hashes.map((h: unknown) => String(h).toLowerCase()) : [];
    slowHash = j?.Features?.SlowHash === true;
    slowModTime = j?.Features?.SlowModTime === true;
    isLocal = j?.Features?.IsLocal === true;
  } catch {
    throw fail("rclone_features", `${dest}: rclone backend features printed something that is not JSON`);
  }
  const plan = choosePlan(hashes, parsed.parts, verify);
  const warnings: string[] = [];
  if (plan.mode === "size") warnings.push(sizeOnlyWarning(dest));
  return { version: parsed.version, versionParts: parsed.parts, hashes, plan, warnings, slowHash, slowModTime, isLocal };
}
