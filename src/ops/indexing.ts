// The index workflow: walk a volume, hash what changed (BLAKE3), and apply the file-row state
// machine in batched transactions; rows go `missing` only after a complete walk with no errors.

import { lstatSync } from "node:fs";
import { checkVolumeIdentity } from "../kernel/volumes.ts";
import { hashFileSync, type FileHash } from "../kernel/hash.ts";
import { createHashPool, POOL_MIN_SIZE, type HashPool } from "../kernel/hashpool.ts";
import { checkpoint } from "../kernel/crash.ts";
import { statusTotals } from "../kernel/aggregates.ts";
import { contentDigest, ensureContent, insertFile, pathHadContent, setFileStatus, touchFile, type IndexRow } from "../kernel/files.ts";
import { comparePaths, walk, type LeftoverKind, type WalkFile, type WalkProblem } from "./walk.ts";
import { IdList, RowMerge } from "./index-merge.ts";
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

/** A file to record: hashed (blake3), or (no blake3) a shallow index's unchanged file with its exact facts. */
type Hashed = { f: WalkFile; row: IndexRow | undefined; blake3: string | undefined; size: number; mtimeNs: bigint; ino: bigint };

/** Rows recorded per transaction (HOARD_INDEX_BATCH overrides, for the crash tests). */
const BATCH = Number(process.env.HOARD_INDEX_BATCH) > 0 ? Math.floor(Number(process.env.HOARD_INDEX_BATCH)) : 4000;

/** The exact (bigint) lstat facts of a walked file (at: the walk's path to it), or undefined if it is gone. */
function exactStat(at: string, f: WalkFile): { size: number; mtimeNs: bigint; ino: bigint } | undefined {
  try {
    const s = lstatSync(at, { bigint: true });
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
    const record = runId !== null && !opts.dryRun;
    const rows = new RowMerge(ctx.db, volume);
    /** Present rows the walk did not find: `missing` after a clean walk. */
    const unseen = new IdList();
    /** Rows a shallow index found unchanged with the inode they had (their last_seen_run moves on at the end). */
    const sameShallow = new IdList();
    const large: { f: WalkFile; row: IndexRow | undefined }[] = [];
    const leftovers: { rel: string; kind: LeftoverKind }[] = [];
    let lastRel: string | undefined;

    // the walk's total is a guess: the files the last index found here (none on a first index)
    const expect = Number(statusTotals(ctx.db, volume).find((t) => t.status === "present")?.files ?? 0n);
    const walked = (current?: string) => ctx.progress({ phase: "walk", done: counts.files, ...(expect ? { total: Math.max(expect, counts.files) } : {}), bytes: counts.bytes, current });
    walked();

    let pending: Hashed[] = [];
    const apply = (batch: Hashed[]) => {
      if (!record) {
        for (const h of batch) classify(h, null);
        return;
      }
      ctx.db.tx(() => {
        for (const h of batch) classify(h, runId);
      });
      checkpoint("index.record"); // one batch recorded, the rest not
    };
    const add = (h: Hashed) => {
      pending.push(h);
      if (pending.length >= BATCH) {
        const b = pending;
        pending = [];
        apply(b);
      }
    };
    const classify = (h: Hashed, run: bigint | null) => {
      const row = h.row;
      if (h.blake3 === undefined) {
        // a shallow index's unchanged file whose inode changed (same size and mtime): its exact facts
        if (run !== null && row) touchFile(ctx.db, row.id, { size: h.size, mtimeNs: h.mtimeNs, ino: h.ino, run });
        return;
      }
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
    /** A hash result: recorded in the next batch, or reported when the file changed under the read. */
    const hashed = (f: WalkFile, row: IndexRow | undefined, h: FileHash) => {
      if (h.changed || h.ino !== f.ino || h.dev !== f.dev) {
        problem({ path: f.rel, kind: "changed_while_hashing", message: "the file changed while it was being hashed; not recorded (index again when it is quiet)" }, true);
        return;
      }
      counts.hashed_bytes += h.size;
      add({ f, row, blake3: h.blake3, size: h.size, mtimeNs: h.mtimeNs, ino: h.ino });
    };
    const unreadable = (f: WalkFile, e: any) => problem({ path: f.rel, kind: "unreadable", message: `cannot read: ${e.code ?? e.message}` }, true);

    // one pass: the walk comes in path order, merged with the live rows read a page at a time in the same
    // order; small files are hashed in the walk (through the directory's handle), large ones after it
    walk(
      top,
      (f, at) => {
        // the walk is synchronous: the progress line redraws from here (rate-limited by the printer)
        counts.bytes += f.size;
        if (++counts.files % 32 === 0) walked(f.rel);
        if (lastRel !== undefined && comparePaths(lastRel, f.rel) >= 0) {
          // never expected (the walk sorts as SQLite does); without order the merge cannot tell new from known
          problem({ path: f.rel, kind: "unreadable", message: "walked out of path order; not recorded (index again)" }, true);
          return;
        }
        lastRel = f.rel;
        const row = rows.take(f.rel, (r) => r.status === "present" && unseen.push(r.id));
        // an offloaded path with a file: hashed, then either the recorded bytes came back (a restore
        // killed before its row flip, a copy put back by hand: the row is present again) or it is
        // another file, which is reported and never recorded over the offloaded row
        if (opts.shallow && row && row.status === "present" && Number(row.size) === f.size && sameMtime(row.mtime_ns, f)) {
          counts.unchanged++;
          if (row.ino === f.ino) sameShallow.push(row.id);
          else {
            // the float lstat decided "unchanged"; what is recorded comes from an exact one
            const exact = exactStat(at, f);
            if (exact) add({ f, row, blake3: undefined, ...exact });
          }
          return;
        }
        if (f.size >= POOL_MIN_SIZE) {
          large.push({ f, row });
          return;
        }
        try {
          hashed(f, row, hashFileSync(at, f.exact ? { expect: f } : {}));
        } catch (e: any) {
          unreadable(f, e);
        }
      },
      (p: WalkProblem) => problem({ path: p.rel, kind: p.kind, message: p.message }, p.error),
      !opts.shallow, // shallow: the cheaper float lstat decides "unchanged"; hashed files get exact stats
      (rel, kind) => leftovers.push({ rel, kind }),
      // excluded paths are never recorded; a present row of one goes `missing` below, like a deleted file
      exclude && ((rel, isDir) => (exclude(rel, isDir) ? (counts.excluded++, true) : false)),
    );
    rows.rest((r) => r.status === "present" && unseen.push(r.id));
    walked();
    if (record) checkpoint("index.walk"); // walked; the batches filled so far are recorded
    if (record && leftovers.length) {
      const l = await removeLeftovers(ctx.db, top, leftovers, volume);
      counts.leftovers_removed += l.removed;
      for (const k of l.kept) problem({ path: k.path, kind: "leftover_kept", message: k.message }, false);
    }

    // large files: on the worker pool (BLAKE3 on two cores), a few in flight
    const totalBytes = large.reduce((s, x) => s + x.f.size, 0);
    let next = 0;
    let done = 0;
    let bytes = 0;
    const worker = async () => {
      while (next < large.length) {
        const { f, row } = large[next++]!;
        try {
          // opened through the directory's anchored handle: the inode the walk found, or a report
          hashed(f, row, await tree.use(f.rel, (dir, name) => pool!.hashFile(dir.at(name), { size: f.size })));
        } catch (e: any) {
          unreadable(f, e);
        }
        bytes += f.size;
        ctx.progress({ phase: "hash", done: ++done, total: large.length, bytes, totalBytes, current: f.rel });
      }
    };
    const pool: HashPool | undefined = large.length ? createHashPool() : undefined;
    try {
      await Promise.all(Array.from({ length: Math.min(CONCURRENCY, large.length) }, worker));
    } finally {
      await pool?.close();
    }
    apply(pending);

    const clean = counts.errors === 0;
    if (record && sameShallow.length)
      ctx.db.tx(() => {
        // after a clean walk every present row was seen (or is about to go missing): one bulk update
        if (clean) ctx.db.run("UPDATE files SET last_seen_run = ? WHERE volume = ? AND status = 'present' AND last_seen_run < ?", runId, volume, runId);
        else sameShallow.forEach((id) => ctx.db.run("UPDATE files SET last_seen_run = ? WHERE id = ?", runId, id));
      });
    // missing: only after a complete walk with no errors; offloaded rows are never touched
    if (clean) {
      counts.missing = unseen.length;
      if (record && unseen.length)
        ctx.db.tx(() => {
          unseen.forEach((id) => setFileStatus(ctx.db, id, "present", "missing", runId));
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
