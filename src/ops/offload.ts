// The offload workflow: select present files, evaluate the gate offline, confirm every required
// destination's identity online, then re-verify each file and unlink it, flipping its row after.

import { refused, usageError, failure, HoardError } from "../kernel/errors.ts";
import { checkVolumeIdentity } from "../kernel/volumes.ts";
import { checkDestinationIdentity } from "../kernel/destinations.ts";
import { liveFiles, setFileStatus, type LiveFile } from "../kernel/files.ts";
import type { Refusal } from "../kernel/gate.ts";
import { nowNs } from "../kernel/runtime.ts";
import { parseDuration } from "../config/duration.ts";
import { withRun, type OpContext } from "./context.ts";
import { openDestination } from "./destination.ts";
import { gateFor } from "./gatecheck.ts";
import { normaliseSelector, select } from "./select.ts";
import { verifiedUnlink } from "./unlink.ts";

export interface OffloadResult {
  run_id: bigint | null;
  volume: string;
  dry_run: boolean;
  offline: boolean;
  status: "success" | "partial" | "dry-run";
  counts: { selected: number; offloadable: number; offloaded: number; offloaded_bytes: number; refused: number; drift: number; errors: number };
  offloaded: string[];
  refusals: { destination: string; code: string; reason: string; hint: string; files: number; examples: string[] }[];
  problems: { path: string; code: string; message: string }[];
  unmatched: string[];
}

export async function offload(ctx: OpContext, volume: string, selectors: string[], opts: { olderThan?: string; dryRun?: boolean; offline?: boolean } = {}): Promise<OffloadResult> {
  const vol = ctx.config.volumes[volume];
  if (!vol) throw usageError("unknown_volume", `unknown volume ${volume}`, `known volumes: ${Object.keys(ctx.config.volumes).join(", ") || "none"}`);
  if (vol.offload_requires.length === 0)
    throw refused("no_policy", `refused: volume ${volume} has no offload policy (offload_requires is empty)`, `add offload_requires = ["DEST", …] to [volumes.${volume}] in the config`);
  if (selectors.length === 0) throw usageError("no_selector", "offload needs a selector: paths inside the volume, or . for the whole volume", `e.g. \`hoard offload ${volume} .\` or \`hoard offload ${volume} photos/2019\``);
  for (const sel of selectors) normaliseSelector(sel); // bad selectors are usage errors before any run starts
  let cutoff: bigint | undefined;
  if (opts.olderThan !== undefined) {
    try {
      cutoff = nowNs() - parseDuration(opts.olderThan);
    } catch {
      throw usageError("bad_duration", `--older-than ${JSON.stringify(opts.olderThan)} is not a duration`, "use e.g. 30d, 12h, 90m");
    }
  }
  const required = vol.offload_requires;
  const result: OffloadResult = {
    run_id: null,
    volume,
    dry_run: !!opts.dryRun,
    offline: !!opts.offline,
    status: opts.dryRun ? "dry-run" : "success",
    counts: { selected: 0, offloadable: 0, offloaded: 0, offloaded_bytes: 0, refused: 0, drift: 0, errors: 0 },
    offloaded: [],
    refusals: [],
    problems: [],
    unmatched: [],
  };

  const decideAll = async () => {
    const present = liveFiles(ctx.db, volume).filter((r) => r.status === "present");
    const { matched, unmatched } = select(present, selectors);
    result.unmatched = unmatched;
    const chosen = cutoff === undefined ? matched : matched.filter((r) => r.mtime_ns <= cutoff!);
    result.counts.selected = chosen.length;
    const g = await gateFor(ctx, volume, required);
    const ok: LiveFile[] = [];
    const groups = new Map<string, OffloadResult["refusals"][number]>();
    for (const f of chosen) {
      const refs: Refusal[] = g.decide(f);
      if (refs.length === 0) {
        ok.push(f);
        continue;
      }
      result.counts.refused++;
      for (const r of refs) {
        const key = `${r.destination}\u0000${r.code}\u0000${r.hint}`;
        let grp = groups.get(key);
        if (!grp) groups.set(key, (grp = { destination: r.destination, code: r.code, reason: r.reason, hint: r.hint, files: 0, examples: [] }));
        grp.files++;
        if (grp.examples.length < 5) grp.examples.push(f.path);
      }
    }
    result.refusals = [...groups.values()];
    result.counts.offloadable = ok.length;
    return ok;
  };

  if (opts.dryRun) {
    checkVolumeIdentity(ctx.db, ctx.config.volumes, volume);
    await decideAll();
    return result;
  }

  let root = "";
  const out = await withRun(
    ctx,
    { kind: "offload", volume, touches: required },
    () => void (root = checkVolumeIdentity(ctx.db, ctx.config.volumes, volume)),
    async (run) => {
      result.run_id = run.id;
      const ok = await decideAll();
      if (ok.length > 0 && !opts.offline) {
        // online: every required destination still shows its pinned identity, before the first unlink
        for (const d of required) {
          try {
            await checkDestinationIdentity(ctx.db, d, openDestination(ctx, d).handler);
          } catch (e) {
            const msg = e instanceof Error ? e.message : String(e);
            throw refused("offload_identity", `refused: offload of ${volume}: ${msg}; nothing was deleted`, e instanceof HoardError && e.hint ? e.hint : `make ${d} reachable, or pass --offline to rely on recorded evidence only`);
          }
        }
      } else if (opts.offline && ok.length > 0) ctx.log.warn("--offline: skipping the online identity check of the destinations; relying on recorded evidence only");
      let done = 0;
      for (const f of ok) {
        const r = await verifiedUnlink(root, f.path, { size: Number(f.size), mtimeNs: f.mtime_ns, blake3: f.blake3 });
        // test hook (test/e2e crash test only): die between the unlink and the row flip, like a power cut
        if (r.ok && process.env.HOARD_TEST_CRASH_AFTER_UNLINK === "1") process.kill(process.pid, "SIGKILL");
        if (r.ok) {
          if (!setFileStatus(ctx.db, f.id, "present", "offloaded", run.id)) throw failure("row_changed", `the index row of ${f.path} changed during offload`);
          result.counts.offloaded++;
          result.counts.offloaded_bytes += Number(f.size);
          result.offloaded.push(f.path);
        } else {
          if (r.code === "drift") result.counts.drift++;
          else result.counts.errors++;
          result.problems.push({ path: f.path, code: r.code, message: r.message });
        }
        ctx.progress({ phase: "offload", done: ++done, total: ok.length, current: f.path });
      }
      const status = result.counts.drift + result.counts.errors > 0 ? "partial" : "success";
      result.status = status;
      return { status, counts: result.counts, result, error: status === "partial" ? `${result.counts.drift + result.counts.errors} files were not offloaded (changed or unsafe)` : undefined };
    },
  );
  return out.result;
}
