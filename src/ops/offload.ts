// The offload workflow: select present files, evaluate the gate offline to pick candidates, then
// per batch ask every required destination live to confirm each file, and unlink only those it did.

import { refused, usageError, failure, HoardError } from "../kernel/errors.ts";
import { checkVolumeIdentity } from "../kernel/volumes.ts";
import { checkDestinationIdentity, type DestinationRow } from "../kernel/destinations.ts";
import { liveFiles, setFileStatus, type LiveFile } from "../kernel/files.ts";
import type { ConfirmDepth, FileOutcome, ManifestEntry } from "../kernel/plugin.ts";
import type { Refusal } from "../kernel/gate.ts";
import { objectCheck, recordConfirmations } from "../kernel/objects.ts";
import { checkpoint } from "../kernel/crash.ts";
import { nowNs } from "../kernel/runtime.ts";
import { parseDuration } from "../config/duration.ts";
import { proofOf } from "../config/schema.ts";
import { withRun, type OpContext } from "./context.ts";
import { collect, handlerContext, openDestination, type OpenDestination } from "./destination.ts";
import { gateFor } from "./gatecheck.ts";
import { acceptedMethods } from "./sync.ts";
import { normaliseSelector, select } from "./select.ts";
import { verifiedUnlink } from "./unlink.ts";

export interface OffloadResult {
  run_id: bigint | null;
  volume: string;
  dry_run: boolean;
  /** The depth asked with --confirm, or null (each destination's offload_confirm). */
  confirm: ConfirmDepth | null;
  status: "success" | "partial" | "dry-run";
  /** unconfirmed: kept because a destination did not confirm it live right before the unlink. */
  counts: { selected: number; offloadable: number; offloaded: number; offloaded_bytes: number; refused: number; unconfirmed: number; drift: number; errors: number };
  offloaded: string[];
  refusals: { destination: string; code: string; reason: string; hint: string; files: number; examples: string[] }[];
  problems: { path: string; code: string; message: string; destination?: string }[];
  /**
   * Per required destination: asked live (false: a trusted destination that could not be reached,
   * believed from recorded evidence), files confirmed by presence and by content, files it did not confirm.
   */
  destinations: { name: string; trusted: boolean; asked: boolean; note?: string; presence: number; content: number; unconfirmed: number }[];
  unmatched: string[];
}

/** Files asked about per confirmation round (HOARD_OFFLOAD_BATCH overrides, for tests). */
function batchSize(): number {
  const n = Number(process.env.HOARD_OFFLOAD_BATCH);
  return Number.isInteger(n) && n > 0 ? n : 1000;
}

const asEntry = (f: LiveFile): ManifestEntry => ({ path: f.path, size: Number(f.size), mtimeNs: f.mtime_ns, blake3: f.blake3, contentId: f.content_id, originNode: f.origin_node, originRun: f.origin_run, status: "present" });

/** Methods that show presence only: never a content confirmation. */
const PRESENCE_ONLY = new Set(["presence", "size", ""]);

export async function offload(ctx: OpContext, volume: string, selectors: string[], opts: { olderThan?: string; dryRun?: boolean; confirm?: ConfirmDepth } = {}): Promise<OffloadResult> {
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
    confirm: opts.confirm ?? null,
    status: opts.dryRun ? "dry-run" : "success",
    counts: { selected: 0, offloadable: 0, offloaded: 0, offloaded_bytes: 0, refused: 0, unconfirmed: 0, drift: 0, errors: 0 },
    offloaded: [],
    refusals: [],
    problems: [],
    destinations: [],
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
      // a refusal because a destination's last check of the file failed is a standing problem there
      const failedChecks = result.refusals.some((g) => g.code === "last_check_failed");
      if (ok.length === 0) {
        const status = failedChecks ? "partial" : "success";
        result.status = status;
        return { status, counts: result.counts, result, error: failedChecks ? "some files' last check at a required destination failed" : undefined };
      }

      // every required destination is asked live, unless it is trusted and cannot be reached
      const asked: { name: string; dest: OpenDestination; pin: DestinationRow; trusted: boolean; info: OffloadResult["destinations"][number] }[] = [];
      for (const d of required) {
        const dest = openDestination(ctx, d);
        const trusted = proofOf(ctx.config.destinations[d]?.table).trusted;
        const info = { name: d, trusted, asked: true, presence: 0, content: 0, unconfirmed: 0 } as OffloadResult["destinations"][number];
        result.destinations.push(info);
        try {
          const pin = await checkDestinationIdentity(ctx.db, d, dest.handler);
          asked.push({ name: d, dest, pin, trusted, info });
        } catch (e) {
          const msg = e instanceof Error ? e.message : String(e);
          // a destination showing another identity is never believed, trusted or not
          if (trusted && !(e instanceof HoardError && e.kind === "refused")) {
            info.asked = false;
            info.note = `not asked: ${msg}; believed from its recorded evidence (trusted = true)`;
            ctx.log.warn(`${d} is trusted and could not be reached: relying on its recorded evidence (${msg})`);
            continue;
          }
          throw refused(
            e instanceof HoardError && e.kind === "refused" ? "offload_identity" : "offload_unreachable",
            `refused: offload of ${volume}: ${msg}; nothing was deleted`,
            e instanceof HoardError && e.kind === "refused" && e.hint ? e.hint : `make ${d} reachable and run the offload again (a destination you trust without asking, such as a disk in your safe, may be marked trusted = true in [destinations.${d}])`,
          );
        }
      }
      const notAsked = result.destinations.filter((x) => !x.asked).map((x) => x.name);
      if (notAsked.length) ctx.log.warn(`not asked (trusted, unreachable): ${notAsked.join(", ")}`);

      // the methods each destination's policy accepts as a content confirmation
      const accepts = new Map<string, (o: string, m: string) => boolean>();
      for (const a of asked) {
        const pairs: [string, string][] = [];
        for (const f of ok) for (const m of ["blake3", "sha256", "sha1", "md5"]) pairs.push([f.origin_node, m]);
        accepts.set(a.name, await acceptedMethods(ctx, volume, a.name, a.dest.config.type, pairs));
      }

      const size = batchSize();
      let done = 0;
      let stopped: string | undefined;
      for (let start = 0; start < ok.length && !stopped; start += size) {
        if (start > 0) checkpoint("offload.batch");
        const batch = ok.slice(start, start + size);
        const entries = batch.map(asEntry);
        /** path -> why it is kept (destination: reason) */
        const kept = new Map<string, { destination: string; reason: string }>();
        for (const a of asked) {
          // identity again, per batch: the place asked now is still the one pinned
          try {
            await checkDestinationIdentity(ctx.db, a.name, a.dest.handler);
          } catch (e) {
            stopped = `${a.name}: ${(e as Error).message}`;
            break;
          }
          const proof = proofOf(ctx.config.destinations[a.name]?.table);
          const now = nowNs();
          const byDepth: Record<ConfirmDepth, ManifestEntry[]> = { presence: [], content: [] };
          for (const e of entries) {
            let depth: ConfirmDepth = opts.confirm ?? proof.confirm;
            if (depth === "presence") {
              const rec = objectCheck(ctx.db, a.name, volume, e.path, e.contentId);
              if (!rec || rec.checked_at === null || now - rec.checked_at > proof.reverifyAfterNs) depth = "content";
            }
            byDepth[depth].push(e);
          }
          const hctx = handlerContext(ctx, { runId: run.id, volume, volumeRoot: root, epoch: a.pin.epoch, signal: new AbortController().signal, warnings: [] });
          for (const depth of ["presence", "content"] as const) {
            const list = byDepth[depth];
            if (list.length === 0) continue;
            let raw: FileOutcome[] = [];
            let askError: string | undefined;
            try {
              if (typeof a.dest.handler.confirm !== "function") throw failure("no_confirm", `destination type ${a.dest.config.type} cannot confirm files live (its plugin has no confirm)`);
              raw = await collect(a.dest.handler.confirm(list, hctx, depth));
            } catch (e) {
              askError = (e as Error)?.message ?? String(e);
            }
            checkpoint("offload.confirm");
            const byPath = new Map<string, FileOutcome>();
            for (const o of raw) if (!byPath.has(o.path)) byPath.set(o.path, o);
            const outs = list.map((e) => byPath.get(e.path));
            if (askError === undefined) ctx.db.tx(() => recordConfirmations(ctx.db, a.name, volume, a.pin.epoch, run.id, depth, list, outs));
            for (let i = 0; i < list.length; i++) {
              const e = list[i]!;
              const o = outs[i];
              let why: string | undefined;
              if (askError !== undefined) why = `could not be asked: ${askError}`;
              else if (!o) why = "gave no answer for it";
              else if (!o.ok) why = (o as { reason: string }).reason;
              else if (depth === "content" && (PRESENCE_ONLY.has(o.method) || o.unchanged || !accepts.get(a.name)!(e.originNode, o.method))) why = `answered by ${o.method || "nothing"}${o.unchanged ? " (a receipt)" : ""}, which does not compare content`;
              if (why !== undefined) {
                if (!kept.has(e.path)) kept.set(e.path, { destination: a.name, reason: why });
                a.info.unconfirmed++;
              } else a.info[depth]++;
            }
          }
        }
        if (stopped) {
          for (const f of ok.slice(start)) {
            result.counts.unconfirmed++;
            result.problems.push({ path: f.path, code: "unconfirmed", message: `not offloaded: the offload stopped (${stopped})` });
          }
          break;
        }
        for (const f of batch) {
          const k = kept.get(f.path);
          if (k) {
            result.counts.unconfirmed++;
            result.problems.push({ path: f.path, code: "unconfirmed", destination: k.destination, message: `${k.destination} did not confirm it: ${k.reason}` });
            continue;
          }
          const r = await verifiedUnlink(root, f.path, { size: Number(f.size), mtimeNs: f.mtime_ns, blake3: f.blake3 });
          // test hook (test/e2e crash test only): die between the unlink and the row flip, like a power cut
          if (r.ok && process.env.HOARD_TEST_CRASH_AFTER_UNLINK === "1") process.kill(process.pid, "SIGKILL");
          if (r.ok) checkpoint("offload.unlink");
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
      }
      const bad = result.counts.unconfirmed + result.counts.drift + result.counts.errors;
      const status = bad > 0 || failedChecks ? "partial" : "success";
      result.status = status;
      const why = [
        bad ? `${bad} files were not offloaded (not confirmed live, changed or unsafe)` : "",
        failedChecks ? "some files' last check at a required destination failed" : "",
        stopped ? `stopped: ${stopped}` : "",
      ].filter(Boolean);
      return { status, counts: result.counts, result, error: why.length ? why.join("; ") : undefined };
    },
  );
  return out.result;
}
