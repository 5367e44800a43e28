// The restore workflow (DESIGN invariants 7 and 10): fetch each offloaded file from the first destination with
// evidence that can serve it, land it beside the target through anchored handles, check, then put it in place.
//
// Fetching: handler.fetch writes to a path, and plugins may run tools in other processes (rclone, kopia) that
// make their own partial files beside that path, so no plugin is ever given a path inside the volume. A fetch
// goes to a private directory under hoard's data dir (0700); the bytes then enter the volume through the anchored
// parent handle: one rename when both are on the same file system, else a copy into a file created O_EXCL
// through the handle. BLAKE3 is then read back from the temp file's own handle, so what is checked is what lands.

import { closeSync, constants, fstatSync, mkdirSync, mkdtempSync, rmSync, type BigIntStats } from "node:fs";
import { join, resolve } from "node:path";
import { randomUUID } from "node:crypto";
import { refused, usageError, HoardError } from "../kernel/errors.ts";
import { checkVolumeIdentity, RESERVED_DIR } from "../kernel/volumes.ts";
import { checkpoint } from "../kernel/crash.ts";
import { setFileStatus, touchFile, type FileStatus } from "../kernel/files.ts";
import type { GateRow } from "../kernel/livescan.ts";
import { hashFileFromHandle } from "../kernel/hash.ts";
import { AnchorError, openRoot, splitRel, type Dir } from "../kernel/anchored.ts";
import { withRun, type OpContext } from "./context.ts";
import { restorePlan } from "./restore-plan.ts";
import { normaliseSelector } from "./select.ts";
import { unlinkChecked } from "./unlink.ts";
import { RESTORE_HISTORY } from "./kept.ts";
import { tallyOf } from "./meter.ts";
import { fetcher, removeDeadFetchDirs, rmTemp } from "./restore-fetch.ts";

export interface RestoreResult {
  run_id: bigint | null;
  volume: string;
  dry_run: boolean;
  target: string;
  status: "success" | "partial" | "failed" | "dry-run";
  counts: { selected: number; restored: number; bytes: number; kept_existing: number; failed: number; no_source: number };
  /** Restored files (on a dry run: the files that would be), the destination each came from, and its size. */
  restored: { path: string; from: string; size: number }[];
  /** Different files found where a restored file belonged, and where they were kept (relative to the target). */
  kept: { path: string; kept_at: string }[];
  failures: { path: string; reason: string }[];
  unmatched: string[];
}

/** An entry moved into the restore history: its directory handle, name there, and path relative to the target. */
type Kept = { dir: Dir; name: string; rel: string };

const errText = (e: any) => (e instanceof Error ? e.message : String(e));
const NO_HARD_LINKS = new Set(["EPERM", "EOPNOTSUPP", "ENOTSUP", "ENOSYS", "EMLINK"]);

export async function restore(ctx: OpContext, volume: string, selectors: string[], opts: { from?: string; to?: string; dryRun?: boolean; missing?: boolean; bwlimit?: string } = {}): Promise<RestoreResult> {
  for (const sel of selectors) normaliseSelector(sel);
  const vol = ctx.config.volumes[volume];
  if (!vol) throw usageError("unknown_volume", `unknown volume ${volume}`);
  if (opts.from && !ctx.config.destinations[opts.from]) throw usageError("unknown_destination", `unknown destination ${opts.from}`);
  if (opts.to && !opts.to.startsWith("/")) opts.to = resolve(opts.to);
  // fallback order: the policy's destinations first, then the other sync targets
  const candidates = opts.from ? [opts.from] : [...new Set([...vol.offload_requires, ...vol.sync_to])];
  const others = Object.keys(ctx.config.destinations).filter((d) => !candidates.includes(d));
  const fromHint = (path: string) => `if another destination holds it, try \`hoard restore ${volume} ${path} --from DEST\`${others.length ? ` (e.g. ${others.join(", ")})` : ""}`;
  const result: RestoreResult = {
    run_id: null,
    volume,
    dry_run: !!opts.dryRun,
    target: opts.to ?? vol.path,
    status: opts.dryRun ? "dry-run" : "success",
    counts: { selected: 0, restored: 0, bytes: 0, kept_existing: 0, failed: 0, no_source: 0 },
    restored: [],
    kept: [],
    failures: [],
    unmatched: [],
  };

  const statuses: FileStatus[] = ["offloaded", ...(opts.missing ? (["missing"] as const) : []), ...(opts.to ? (["present"] as const) : [])];
  // offloaded files; with --missing also files lost locally (e.g. deleted by hand, or a crash between
  // unlink and row flip); with --to also present ones (a scratch copy changes no rows)
  const plan = (into: RestoreResult) => restorePlan(ctx, { volume, selectors, statuses, candidates, fromHint, size: 1000 }, into);

  if (opts.dryRun) {
    checkVolumeIdentity(ctx.db, ctx.config.volumes, volume);
    for await (const batch of plan(result)) for (const p of batch) result.restored.push({ path: p.f.path, from: p.sources[0]!, size: Number(p.f.size) });
    return result;
  }
  const out = await withRun(
    ctx,
    { kind: "restore", volume, touches: candidates },
    () => {
      const root = checkVolumeIdentity(ctx.db, ctx.config.volumes, volume);
      const target = opts.to ?? root;
      mkdirSync(target, { recursive: true });
      // the restore history lives in <target>/.hoard: a symlink there is refused, never followed
      const top = openRoot(target);
      try {
        const st = top.stat(RESERVED_DIR);
        if (st && !st.isDirectory())
          throw refused("restore_reserved", `refused: ${target}/${RESERVED_DIR} is ${st.isSymbolicLink() ? "a symbolic link" : "not a directory"}; hoard keeps its restore history there and never follows a link`, `move ${target}/${RESERVED_DIR} away and restore again`);
      } finally {
        top.close();
      }
      return { root, target };
    },
    async (run, { root, target }) => {
      result.run_id = run.id;
      // a first pass for the totals of the progress (nothing kept), then the restore batch by batch
      const t = { ...result, counts: { ...result.counts }, failures: [] };
      let total = 0;
      let totalBytes = 0;
      for await (const batch of plan(t)) for (const i of batch) (total++, (totalBytes += Number(i.f.size)));
      const fetches = tallyOf(ctx.progress, "restore", total, totalBytes);
      const top = openRoot(target);
      const fetchDir = join(ctx.dataDir, "restore-tmp");
      mkdirSync(fetchDir, { recursive: true, mode: 0o700 });
      removeDeadFetchDirs(ctx, fetchDir);
      const priv = mkdtempSync(join(fetchDir, `run-${run.id}-`));
      const fetchInto = fetcher(ctx, { runId: run.id, volume, root, priv, bwlimit: opts.bwlimit });
      let history: Dir | undefined; // this run's own directory under .hoard/restore-history, made on first use
      const historyName = `run-${run.id}-${new Date().toISOString().replace(/[-:]|\.\d+/g, "")}-${randomUUID().slice(0, 8)}`;

      /** Move the entry `name` of `dir` into this run's restore history (never onto an earlier kept file). */
      const keepAside = (f: GateRow, dir: Dir, name: string): Kept => {
        if (!history) {
          const base = top.openDir([RESERVED_DIR, RESTORE_HISTORY], { create: true });
          try {
            base.mkdir(historyName, 0o700); // EEXIST (never expected: the name is unique) fails the file
            history = base.openDir([historyName]);
          } finally {
            base.close();
          }
        }
        const { parents, name: base } = splitRel(f.path);
        const sub = history.openDir(parents, { create: true });
        for (let k = 0; ; k++) {
          const cand = k === 0 ? base : `${base}.${k}`;
          if (sub.stat(cand)) continue;
          try {
            dir.rename(name, sub, cand);
          } catch (e: any) {
            sub.close();
            if (e?.code === "EXDEV") throw new Error(`a different file is there and cannot be moved into ${RESERVED_DIR}/${RESTORE_HISTORY} (another file system); move it away and restore again`);
            throw e;
          }
          return { dir: sub, name: cand, rel: [RESERVED_DIR, RESTORE_HISTORY, historyName, ...parents, cand].join("/") };
        }
      };

      /** Put the temp file at `name` without ever replacing an entry: whatever is there is kept aside first. */
      const place = (f: GateRow, dir: Dir, tmp: string, name: string, kept: Kept[]): void => {
        for (let attempt = 0; attempt < 5; attempt++) {
          const st = dir.stat(name);
          if (st?.isDirectory()) throw new Error(`a directory is where the file belongs; move it away and restore again`);
          if (st) {
            kept.push(keepAside(f, dir, name));
            continue;
          }
          try {
            dir.link(tmp, dir, name);
          } catch (e: any) {
            if (e?.code === "EEXIST") continue; // something appeared: keep it aside too
            if (!NO_HARD_LINKS.has(e?.code)) throw e;
            // a file system without hard links: a plain rename to the (just checked) free name
            dir.rename(tmp, dir, name);
            return;
          }
          dir.unlink(tmp);
          return;
        }
        throw new Error("the path keeps changing while restoring it; try again when it is quiet");
      };

      /** Once the file is restored, a kept entry identical to it is dropped (nothing is lost); the others are reported. */
      const settleKept = async (f: GateRow, k: Kept, restored: boolean) => {
        try {
          const st = restored ? k.dir.stat(k.name) : undefined;
          if (st?.isFile()) {
            const fd = k.dir.openFile(k.name, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
            try {
              const fst = fstatSync(fd, { bigint: true });
              const h = await hashFileFromHandle(fd);
              if (!h.changed && h.blake3 === f.blake3 && unlinkChecked(k.dir, k.name, fst).ok) return;
            } finally {
              closeSync(fd);
            }
          }
        } catch {
          /* unreadable: kept */
        } finally {
          k.dir.close();
        }
        result.counts.kept_existing++;
        result.kept.push({ path: f.path, kept_at: k.rel });
        ctx.log.warn(`${f.path}: a different file was there; kept it at ${target}/${k.rel}`);
      };

      try {
        for await (const batch of plan(result)) for (const { f, sources } of batch) {
          let dir: Dir | undefined;
          let tmp = "";
          let from = "";
          const kept: Kept[] = [];
          try {
            const { parents, name } = splitRel(f.path);
            try {
              dir = top.openDir(parents, { create: true }); // mkdirat each missing parent, never through a link
            } catch (e) {
              if (e instanceof AnchorError) throw new Error(`cannot restore under ${e.message}; move it away and restore again`);
              throw e;
            }
            const tried: string[] = [];
            for (const s of sources) {
              try {
                tmp = await fetchInto(f, s, dir);
                from = s;
                break;
              } catch (e) {
                if (e instanceof HoardError && e.kind === "refused" && e.code === "no_anchored_fs") throw e;
                tried.push(`${s}: ${errText(e)}`);
              }
            }
            if (!from) throw new Error(`${tried.join("; ")}${sources.length > 1 ? " (every destination with evidence failed)" : ""}; ${fromHint(f.path)}`);
            checkpoint("restore.fetch"); // fetched and checked, beside the target, not placed yet
            place(f, dir, tmp, name, kept);
            tmp = "";
            dir.sync();
            checkpoint("restore.rename"); // placed, the row not flipped yet
            for (const k of kept.splice(0)) await settleKept(f, k, true);
            if (!opts.to) {
              const st = dir.stat(name) as BigIntStats;
              ctx.db.tx(() => {
                if (f.status === "offloaded" || f.status === "missing") setFileStatus(ctx.db, f.id, f.status, "present", run.id);
                touchFile(ctx.db, f.id, { size: Number(st.size), mtimeNs: st.mtimeNs, ino: st.ino, run: run.id });
              });
            }
            result.counts.restored++;
            result.counts.bytes += Number(f.size);
            result.restored.push({ path: f.path, from, size: Number(f.size) });
          } catch (e) {
            if (e instanceof HoardError && e.kind === "refused") throw e;
            if (tmp && dir) rmTemp(dir, tmp);
            result.counts.failed++;
            result.failures.push({ path: f.path, reason: errText(e) });
          } finally {
            for (const k of kept.splice(0)) await settleKept(f, k, false); // kept aside before a failure: still kept, and said so
            dir?.close();
          }
          fetches.step(f, from || undefined);
        }
      } finally {
        history?.close();
        top.close();
        rmSync(priv, { recursive: true, force: true });
      }
      const bad = result.counts.failed + result.counts.no_source;
      result.status = bad === 0 ? "success" : result.counts.restored > 0 ? "partial" : "failed";
      return { status: result.status as "success" | "partial" | "failed", counts: result.counts, result, error: bad ? `${bad} files not restored` : undefined };
    },
  );
  return out.result;
}
