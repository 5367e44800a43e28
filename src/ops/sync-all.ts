// `hoard sync` as a whole: which (volume, destination) pairs it means, the optional index before it
// (or the warning that a tree changed since its last index), and the --bwlimit syntax it passes on.

import { HoardError, usageError } from "../kernel/errors.ts";
import type { OpContext } from "./context.ts";
import { indexVolume, type IndexResult } from "./indexing.ts";
import { treeChanges, type TreeChanges } from "./treechanges.ts";
import { checkEach, type CheckError, type CheckResult } from "./sync.ts";

// as rclone parses it: a unit letter of either case, then a lower-case "i" and a "b"/"B" optional
const RATE = String.raw`(?:[oO][fF][fF]|\d+(?:\.\d+)?(?:[bB]|[kKmMgGtTpP](?:i[bB]?)?)?)`;
const BWLIMIT_RE = new RegExp(`^${RATE}(?::${RATE})?$`);

/**
 * `--bwlimit RATE` in rclone's syntax: "10M", "512k", "1.5M" (bytes/s; B K M G T P, KiB when no
 * unit), "UP:DOWN" ("10M:off"), or "off". Timetables are not taken. Anything else: a usage error.
 */
export function checkBwlimit(s: string): string {
  const t = s.trim();
  if (!BWLIMIT_RE.test(t))
    throw usageError("bad_bwlimit", `--bwlimit ${JSON.stringify(s)}: expected a rate such as 10M, 512k or off (rclone's syntax; UP:DOWN for two limits)`, "e.g. --bwlimit 10M (10 MiB/s) or --bwlimit 512k");
  return t;
}

/** A volume whose tree changed since its last index (a shallow look before a sync). */
export interface TreeChanged extends TreeChanges {
  volume: string;
}
/** An index run before a sync (`--index`) that could not run at all. */
export interface IndexFailure {
  volume: string;
  status: "failed";
  error: { code: string; kind: string; message: string; hint: string | null };
}
export interface SyncAllResult {
  results: (CheckResult | CheckError)[];
  /** With `--index`: each volume's index run, in order; null without. */
  index: (IndexResult | IndexFailure)[] | null;
  /** Without `--index`: the volumes whose tree changed since their last index; null with it. */
  tree_changed: TreeChanged[] | null;
}

/**
 * `hoard sync`: with `index`, index each volume first (a real index run; a dry one with dryRun),
 * else warn about each volume whose tree changed since its last index (it is the index that a
 * sync pushes); then check every pair (checkEach).
 */
export async function syncAll(ctx: OpContext, pairs: readonly [string, string][], opts: { dryRun?: boolean; bwlimit?: string; index?: boolean } = {}): Promise<SyncAllResult> {
  const volumes = [...new Set(pairs.map(([v]) => v))];
  let index: SyncAllResult["index"] = null;
  let treeChanged: SyncAllResult["tree_changed"] = null;
  if (opts.index) {
    index = [];
    for (const volume of volumes) {
      try {
        const r = await indexVolume(ctx, volume, { dryRun: opts.dryRun, trigger: "sync" });
        if (r.status === "partial") ctx.log.warn(`index ${volume}: ${r.counts.errors} entries could not be indexed; files were not marked missing (see hoard index ${volume})`);
        index.push(r);
      } catch (e) {
        if (volumes.length === 1) throw e;
        const he = e instanceof HoardError ? e : undefined;
        const message = (e as Error)?.message ?? String(e);
        ctx.log.warn(`index ${volume}: ${message}${he?.hint ? ` (next: ${he.hint})` : ""}`);
        index.push({ volume, status: "failed", error: { code: he?.code ?? "internal", kind: he?.kind ?? "failure", message, hint: he?.hint ?? null } });
      }
    }
  } else {
    treeChanged = [];
    for (const volume of volumes) {
      let c: TreeChanges;
      try {
        c = treeChanges(ctx, volume);
      } catch {
        continue; // the sync itself reports what is wrong with the volume
      }
      if (c.new + c.changed + c.missing === 0) continue;
      treeChanged.push({ volume, ...c });
      ctx.log.warn(
        `${volume} changed since its last index (${c.new} new, ${c.changed} changed, ${c.missing} missing, by size and mtime): this sync pushes what was indexed; run \`hoard index ${volume}\` first, or \`hoard sync --index\``,
      );
    }
  }
  const results = await checkEach(ctx, "sync", pairs, { dryRun: opts.dryRun, bwlimit: opts.bwlimit });
  return { results, index, tree_changed: treeChanged };
}

/** Which (volume, destination) pairs a `hoard sync [VOLUME] [--to DEST]` means. */
export function syncTargets(ctx: OpContext, volume: string | undefined, to: string | undefined): [string, string][] {
  const vols = volume ? [volume] : Object.keys(ctx.config.volumes);
  if (volume && !ctx.config.volumes[volume]) throw usageError("unknown_volume", `unknown volume ${volume}`, `known volumes: ${Object.keys(ctx.config.volumes).join(", ") || "none (hoard volume add NAME PATH)"}`);
  if (to && !ctx.config.destinations[to]) throw usageError("unknown_destination", `unknown destination ${to}`, `known destinations: ${Object.keys(ctx.config.destinations).join(", ") || "none"}`);
  const out: [string, string][] = [];
  for (const v of vols) {
    const dests = to ? [to] : [...new Set([...ctx.config.volumes[v]!.sync_to, ...ctx.config.volumes[v]!.offload_requires])];
    for (const d of dests) out.push([v, d]);
  }
  if (out.length === 0) throw usageError("nothing_to_sync", volume ? `volume ${volume} has no sync_to destinations` : "no volume has sync_to destinations", "add sync_to = [\"DEST\"] to the volume, or pass --to DEST");
  return out;
}

