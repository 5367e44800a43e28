// The index workflow: walk a volume, hash what changed (BLAKE3), and apply the file-row state
// machine in batched transactions; rows go `missing` only after a complete walk with no errors.

import { lstatSync } from "node:fs";
import { checkVolumeIdentity } from "../kernel/volumes.ts";
import { hashFile } from "../kernel/hash.ts";
import { createHashPool, POOL_MIN_SIZE, type HashPool } from "../kernel/hashpool.ts";
import { checkpoint } from "../kernel/crash.ts";
import { contentDigest, ensureContent, indexRows, insertFile, pathHadContent, setFileStatus, touchFile, type IndexRow } from "../kernel/files.ts";
import { walk, type LeftoverKind, type WalkFile, type WalkProblem } from "./walk.ts";
import { DirCache, openRoot, type Dir } from "../kernel/anchored.ts";
import { removeLeftovers } from "./leftovers.ts";
import { sameMtime } from "./treechanges.ts";
import { runInfo, withRun, type OpContext } from "./context.ts";
import { runVolumeHook, type HookOutcome } from "./hooks.ts";
import { excludeMatcher } from "../kernel/exclude.ts";

export interface IndexCounts {
  files: number;
  bytes: number;
  hashed_bytes: number;
  new: number;
  changed: number;
  reverted: number;
  unchanged: number;
  reappeared: number;
  missing: number;
  skipped: number;
  errors: number;
  offloaded_conflicts: number;
  /** hoard's own temp files left by an interrupted run, removed by this index. */
  leftovers_removed: number;
  /** Entries (files, and directories not entered) skipped by the volume's exclude patterns. */
  excluded: number;
}
export interface IndexProblem {
  path: string;
  kind: string;
  message: string;
}
export interface IndexResult {
  run_id: bigint | null;
  volume: string;
  status: "success" | "partial";
  dry_run: boolean;
  shallow: boolean;
  counts: IndexCounts;
  problems: IndexProblem[];
  changed: boolean;
  /** The volume hook fired after the run (null: none configured). */
  hook?: HookOutcome | null;
}

type Hashed = { f: WalkFile; blake3: string; size: number; mtimeNs: bigint; ino: bigint };

/** Rows recorded per transaction (HOARD_INDEX_BATCH overrides, for the crash tests). */
const BATCH = Number(process.env.HOARD_INDEX_BATCH) > 0 ? Math.floor(Number(process.env.HOARD_INDEX_BATCH)) : 4000;

/** The exact (bigint) lstat facts of a walked file, through its anchored directory, or undefined if it vanished. */
function exactStat(tree: DirCache, f: WalkFile): { size: number; mtimeNs: bigint; ino: bigint } | undefined {
  try {
    const s = tree.useSync(f.rel, (dir, name) => lstatSync(dir.at(name), { bigint: true }));
    return s.isFile() && s.ino === f.ino ? { size: Number(s.size), mtimeNs: s.mtimeNs, ino: s.ino } : undefined;
  } catch {
    return undefined;
  }
}
const CONCURRENCY = 4;

export async function indexVolume(ctx: OpContext, volume: string, opts: { shallow?: boolean; dryRun?: boolean; trigger?: string } = {}): Promise<IndexResult> {
  let root = "";
  const counts: IndexCounts = { files: 0, bytes: 0, hashed_bytes: 0, new: 0, changed: 0, reverted: 0, unchanged: 0, reappeared: 0, missing: 0, skipped: 0, errors: 0, offloaded_conflicts: 0, leftovers_removed: 0, excluded: 0 };
  const problems: IndexProblem[] = [];
  const problem = (p: IndexProblem, error: boolean) => {
    problems.push(p);
    if (error) counts.errors++;
    else counts.skipped++;
  };

  const work = async (runId: bigint | null) => {
    const top = openRoot(root);
    const tree = new DirCache(top);
    try {
      return await workIn(top, tree, runId);
    } finally {
      tree.close();
      top.close();
    }
  };

  const exclude = excludeMatcher(ctx.config.volumes[volume]?.exclude);
  const workIn = async (top: Dir, tree: DirCache, runId: bigint | null) => {
    const live = new Map<string, IndexRow>();
    for (const r of indexRows(ctx.db, volume)) live.set(r.path, r);
    const seen = new Set<string>();
    const toHash: WalkFile[] = [];
    const unchangedShallow: { row: IndexRow; f: WalkFile }[] = [];
    const leftovers: { rel: string; kind: LeftoverKind }[] = [];

    // the walk's total is a guess: the files the last index found here (none on a first index)
    let expect = 0;
    for (const r of live.values()) if (r.status === "present") expect++;
    const walked = (current?: string) => ctx.progress({ phase: "walk", done: counts.files, ...(expect ? { total: Math.max(expect, counts.files) } : {}), bytes: counts.bytes, current });
    walked();
    walk(
      top,
      (f) => {
        // the walk is synchronous: the progress line redraws from here (rate-limited by the printer)
        counts.bytes += f.size;
        if (++counts.files % 32 === 0) walked(f.rel);
        seen.add(f.rel);
        const row = live.get(f.rel);
        // an offloaded path with a file: hashed, then either the recorded bytes came back (a restore
        // killed before its row flip, a copy put back by hand: the row is present again) or it is
        // another file, which is reported and never recorded over the offloaded row
        if (row?.status === "offloaded") {
          toHash.push(f);
          return;
        }
        if (opts.shallow && row && row.status === "present" && Number(row.size) === f.size && sameMtime(row.mtime_ns, f)) unchangedShallow.push({ row, f });
        else toHash.push(f);
      },
      (p: WalkProblem) => problem({ path: p.rel, kind: p.kind, message: p.message }, p.error),
      !opts.shallow, // shallow: the cheaper float lstat decides "unchanged"; hashed files get exact stats
      (rel, kind) => leftovers.push({ rel, kind }),
      // excluded paths are never recorded; a present row of one goes `missing` below, like a deleted file
      exclude && ((rel, isDir) => (exclude(rel, isDir) ? (counts.excluded++, true) : false)),
    );
    walked();
    if (runId !== null && !opts.dryRun) checkpoint("index.walk"); // walked, nothing recorded yet
    if (runId !== null && !opts.dryRun && leftovers.length) {
      const l = await removeLeftovers(ctx.db, top, leftovers, live);
      counts.leftovers_removed += l.removed;
      for (const k of l.kept) problem({ path: k.path, kind: "leftover_kept", message: k.message }, false);
    }

    // hash with a few reads in flight; apply in batches
    const totalBytes = toHash.reduce((s, f) => s + f.size, 0);
    let pending: Hashed[] = [];
    let done = 0;
    const apply = (batch: Hashed[]) => {
      if (opts.dryRun || runId === null) {
        for (const h of batch) classify(h, null);
        return;
      }
      ctx.db.tx(() => {
        for (const h of batch) classify(h, runId);
      });
      checkpoint("index.record"); // one batch recorded, the rest not
    };
    const classify = (h: Hashed, run: bigint | null) => {
      const row = live.get(h.f.rel);
      if (row && contentDigest(ctx.db, row.content_id) === h.blake3) {
        if (row.status === "missing" || row.status === "offloaded") {
          counts.reappeared++;
          if (run !== null) setFileStatus(ctx.db, row.id, row.status, "present", run);
        } else counts.unchanged++;
        if (run !== null) touchFile(ctx.db, row.id, { size: h.size, mtimeNs: h.mtimeNs, ino: h.ino, run });
        return;
      }
      if (row?.status === "offloaded") {
        problem({ path: h.f.rel, kind: "offloaded_conflict", message: "this path is offloaded but a different file exists there now; it is not indexed (run `hoard restore` to bring the recorded version back: your file is kept aside; or move it away)" }, false);
        counts.offloaded_conflicts++;
        counts.skipped--;
        return;
      }
      if (run === null) {
        if (row) counts.changed++;
        else counts.new++;
        return;
      }
      const content = ensureContent(ctx.db, h.blake3, h.size, ctx.node, run);
      if (row) {
        setFileStatus(ctx.db, row.id, row.status, "superseded", run);
        if (!content.isNew && pathHadContent(ctx.db, volume, h.f.rel, content.id)) counts.reverted++;
        else counts.changed++;
      } else counts.new++;
      insertFile(ctx.db, { volume, path: h.f.rel, contentId: content.id, size: h.size, mtimeNs: h.mtimeNs, ino: h.ino, run });
    };

    let next = 0;
    const worker = async () => {
      while (next < toHash.length) {
        const f = toHash[next++]!;
        try {
          // opened through the directory's anchored handle: the inode the walk found, or a report
          const h = await tree.use(f.rel, (dir, name) => (pool && f.size >= POOL_MIN_SIZE ? pool.hashFile(dir.at(name), { size: f.size }) : hashFile(dir.at(name), f.exact ? { expect: f } : {})));
          if (h.changed || h.ino !== f.ino || h.dev !== f.dev) {
            problem({ path: f.rel, kind: "changed_while_hashing", message: "the file changed while it was being hashed; not recorded (index again when it is quiet)" }, true);
            seen.delete(f.rel);
            continue;
          }
          counts.hashed_bytes += h.size;
          pending.push({ f, blake3: h.blake3, size: h.size, mtimeNs: h.mtimeNs, ino: h.ino });
        } catch (e: any) {
          problem({ path: f.rel, kind: "unreadable", message: `cannot read: ${e.code ?? e.message}` }, true);
        }
        done++;
        if (pending.length >= BATCH) {
          const b = pending;
          pending = [];
          apply(b);
        }
        ctx.progress({ phase: "hash", done, total: toHash.length, bytes: counts.hashed_bytes, totalBytes, current: f.rel });
      }
    };
    // large files go to a small worker pool (BLAKE3 on two cores); small ones are hashed inline
    const pool: HashPool | undefined = toHash.some((f) => f.size >= POOL_MIN_SIZE) ? createHashPool() : undefined;
    try {
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, Math.max(1, toHash.length)) }, worker));
    } finally {
      await pool?.close();
    }
    apply(pending);
    counts.unchanged += unchangedShallow.length;

    if (runId !== null && !opts.dryRun) {
      ctx.db.tx(() => {
        // after a clean walk every present row was seen (or is about to go missing): one bulk update
        const bulk = counts.errors === 0;
        for (const { row, f } of unchangedShallow)
          if (!bulk || row.ino !== f.ino) {
            const exact = f.exact ? f : exactStat(tree, f);
            if (exact) touchFile(ctx.db, row.id, { size: exact.size, mtimeNs: exact.mtimeNs, ino: exact.ino, run: runId });
          }
        if (bulk && unchangedShallow.length) ctx.db.run("UPDATE files SET last_seen_run = ? WHERE volume = ? AND status = 'present' AND last_seen_run < ?", runId, volume, runId);
      });
    }
    // missing: only after a complete walk with no errors; offloaded rows are never touched
    const clean = counts.errors === 0;
    if (clean) {
      const gone = [...live.values()].filter((r) => r.status === "present" && !seen.has(r.path));
      counts.missing = gone.length;
      if (runId !== null && !opts.dryRun && gone.length)
        ctx.db.tx(() => {
          for (const r of gone) setFileStatus(ctx.db, r.id, "present", "missing", runId);
        });
    }
    return clean ? "success" : "partial";
  };

  const finish = (runId: bigint | null, status: "success" | "partial"): IndexResult => ({
    run_id: runId,
    volume,
    status,
    dry_run: !!opts.dryRun,
    shallow: !!opts.shallow,
    counts,
    problems,
    changed: counts.new + counts.changed + counts.reverted + counts.reappeared + counts.missing > 0,
  });

  if (opts.dryRun) {
    root = checkVolumeIdentity(ctx.db, ctx.config.volumes, volume);
    return finish(null, await work(null));
  }
  const out = await withRun(
    ctx,
    { kind: "index", volume },
    () => void (root = checkVolumeIdentity(ctx.db, ctx.config.volumes, volume)),
    async (run) => {
      const status = await work(run.id);
      return { status, counts: { ...counts }, result: null, error: status === "partial" ? `${counts.errors} entries could not be indexed` : undefined };
    },
  );
  const result = finish(out.run.id, out.status as "success" | "partial");
  await ctx.registry.emit("index:finish", { run: runInfo(out.run), volume, path: root, changed: result.changed, counts: { ...counts } });
  result.hook = await runVolumeHook(ctx, { volume, path: root, runId: out.run.id, changed: result.changed, trigger: opts.trigger ?? "cli", status: result.status });
  return result;
}
