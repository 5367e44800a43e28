// The restore workflow: fetch offloaded files from a destination holding evidence for them into a
// temp file, check BLAKE3, set mtime, fsync, rename (keeping any different file found there).

import { closeSync, existsSync, fsyncSync, lstatSync, mkdirSync, openSync, renameSync, rmSync, utimesSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { randomUUID } from "node:crypto";
import { usageError } from "../kernel/errors.ts";
import { checkVolumeIdentity } from "../kernel/volumes.ts";
import { checkDestinationIdentity } from "../kernel/destinations.ts";
import { liveFiles, setFileStatus, touchFile, type LiveFile } from "../kernel/files.ts";
import { hashFile } from "../kernel/hash.ts";
import { withRun, type OpContext } from "./context.ts";
import { handlerContext, openDestination } from "./destination.ts";
import { gateFor } from "./gatecheck.ts";
import { normaliseSelector, select } from "./select.ts";
import type { ManifestEntry } from "../kernel/plugin.ts";

export interface RestoreResult {
  run_id: bigint | null;
  volume: string;
  dry_run: boolean;
  target: string;
  status: "success" | "partial" | "failed" | "dry-run";
  counts: { selected: number; restored: number; bytes: number; kept_existing: number; failed: number; no_source: number };
  restored: { path: string; from: string }[];
  failures: { path: string; reason: string }[];
  unmatched: string[];
}

function fsyncFile(p: string, dir = false) {
  const fd = openSync(p, dir ? "r" : "r+");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** mkdir -p below root, refusing to go through symlinked or non-directory parents. */
function ensureRealDirs(root: string, rel: string) {
  let dir = root;
  for (const p of rel.split("/").slice(0, -1)) {
    dir = join(dir, p);
    try {
      const st = lstatSync(dir);
      if (st.isSymbolicLink() || !st.isDirectory()) throw usageError("restore_parent", `cannot restore under ${dir}: it is ${st.isSymbolicLink() ? "a symbolic link" : "not a directory"}`, "move it away and restore again");
    } catch (e: any) {
      if (e.code !== "ENOENT") throw e;
      mkdirSync(dir);
    }
  }
}

export async function restore(ctx: OpContext, volume: string, selectors: string[], opts: { from?: string; to?: string; dryRun?: boolean; missing?: boolean } = {}): Promise<RestoreResult> {
  for (const sel of selectors) normaliseSelector(sel);
  const vol = ctx.config.volumes[volume];
  if (!vol) throw usageError("unknown_volume", `unknown volume ${volume}`);
  if (opts.from && !ctx.config.destinations[opts.from]) throw usageError("unknown_destination", `unknown destination ${opts.from}`);
  if (opts.to && !opts.to.startsWith("/")) opts.to = resolve(opts.to);
  const candidates = opts.from ? [opts.from] : [...new Set([...vol.offload_requires, ...vol.sync_to])];
  const result: RestoreResult = {
    run_id: null,
    volume,
    dry_run: !!opts.dryRun,
    target: opts.to ?? vol.path,
    status: opts.dryRun ? "dry-run" : "success",
    counts: { selected: 0, restored: 0, bytes: 0, kept_existing: 0, failed: 0, no_source: 0 },
    restored: [],
    failures: [],
    unmatched: [],
  };

  const plan = async () => {
    // offloaded files; with --missing also files lost locally (e.g. deleted by hand, or a crash between
    // unlink and row flip); with --to also present ones (a scratch copy changes no rows)
    const rows = liveFiles(ctx.db, volume).filter((r) => r.status === "offloaded" || (opts.missing && r.status === "missing") || (opts.to && r.status === "present"));
    const { matched, unmatched } = select(rows, selectors.length ? selectors : ["."]);
    result.unmatched = selectors.length ? unmatched : [];
    result.counts.selected = matched.length;
    // the source of each file: the first candidate destination whose evidence would pass the gate
    const gates = new Map<string, Awaited<ReturnType<typeof gateFor>>>();
    for (const d of candidates) gates.set(d, await gateFor(ctx, volume, [d]));
    const out: { f: LiveFile; from: string }[] = [];
    for (const f of matched) {
      const from = candidates.find((d) => gates.get(d)!.decide(f).filter((r) => r.code !== "policy" && r.code !== "not_confirmed").length === 0);
      if (!from) {
        result.counts.no_source++;
        result.failures.push({ path: f.path, reason: `no destination among ${candidates.join(", ")} holds verified evidence for it` });
      } else out.push({ f, from });
    }
    return out;
  };

  if (opts.dryRun) {
    checkVolumeIdentity(ctx.db, ctx.config.volumes, volume);
    for (const p of await plan()) result.restored.push({ path: p.f.path, from: p.from });
    return result;
  }
  let root = "";
  const out = await withRun(
    ctx,
    { kind: "restore", volume, touches: candidates },
    () => void (root = checkVolumeIdentity(ctx.db, ctx.config.volumes, volume)),
    async (run) => {
      result.run_id = run.id;
      const items = await plan();
      const epochs = new Map<string, bigint>(); // destination -> epoch, once its identity was checked
      const target = opts.to ?? root;
      mkdirSync(target, { recursive: true });
      const warnings: string[] = [];
      for (const { f, from } of items) {
        const dest = openDestination(ctx, from);
        if (!epochs.has(from)) epochs.set(from, (await checkDestinationIdentity(ctx.db, from, dest.handler)).epoch);
        const entry: ManifestEntry = { path: f.path, size: Number(f.size), mtimeNs: f.mtime_ns, blake3: f.blake3, contentId: f.content_id, originNode: f.origin_node, originRun: f.origin_run, status: "offloaded" };
        const abs = join(target, f.path);
        let tmp = "";
        try {
          ensureRealDirs(target, f.path);
          tmp = join(dirname(abs), `.hoard-restore-${randomUUID()}`);
          await dest.handler.fetch(entry, tmp, handlerContext(ctx, { runId: run.id, volume, volumeRoot: root, epoch: epochs.get(from)!, signal: new AbortController().signal, warnings }));
          const h = await hashFile(tmp);
          if (h.blake3 !== f.blake3) throw new Error(`bytes from ${from} do not match the index (BLAKE3 ${h.blake3.slice(0, 16)}…, expected ${f.blake3.slice(0, 16)}…)`);
          const sec = Number(f.mtime_ns / 1000n) / 1e6;
          utimesSync(tmp, sec, sec);
          fsyncFile(tmp);
          if (existsSync(abs) || isLink(abs)) {
            const cur = lstatSync(abs);
            const same = cur.isFile() && (await hashFile(abs)).blake3 === f.blake3;
            if (!same) {
              const keep = join(target, ".hoard", "restore-history", `run-${run.id}`, f.path);
              mkdirSync(dirname(keep), { recursive: true });
              renameSync(abs, keep);
              result.counts.kept_existing++;
              ctx.log.warn(`${f.path}: a different file was there; kept it at ${keep}`);
            }
          }
          renameSync(tmp, abs);
          tmp = "";
          fsyncFile(dirname(abs), true);
          if (!opts.to) {
            const st = lstatSync(abs, { bigint: true });
            ctx.db.tx(() => {
              if (f.status === "offloaded" || f.status === "missing") setFileStatus(ctx.db, f.id, f.status, "present", run.id);
              touchFile(ctx.db, f.id, { size: Number(st.size), mtimeNs: st.mtimeNs, ino: st.ino, run: run.id });
            });
          }
          result.counts.restored++;
          result.counts.bytes += Number(f.size);
          result.restored.push({ path: f.path, from });
        } catch (e) {
          if (tmp) rmSync(tmp, { force: true });
          result.counts.failed++;
          result.failures.push({ path: f.path, reason: (e as Error)?.message ?? String(e) });
        }
        ctx.progress({ phase: "restore", done: result.counts.restored + result.counts.failed, total: items.length, current: f.path });
      }
      const bad = result.counts.failed + result.counts.no_source;
      result.status = bad === 0 ? "success" : result.counts.restored > 0 ? "partial" : "failed";
      return { status: result.status as "success" | "partial" | "failed", counts: result.counts, result, error: bad ? `${bad} files not restored` : undefined };
    },
  );
  return out.result;
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

