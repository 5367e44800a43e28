// A shallow look at a volume's tree against its index (what `index --shallow` would find), and the
// mtime comparison a shallow look uses; nothing is recorded or removed.

import { checkVolumeIdentity } from "../kernel/volumes.ts";
import { RowMerge } from "./index-merge.ts";
import { openRoot } from "../kernel/anchored.ts";
import { excludeMatcher } from "../kernel/exclude.ts";
import { walk, type WalkFile } from "./walk.ts";
import type { OpContext } from "./context.ts";

/** Shallow "unchanged": exact nanoseconds, or within a microsecond of a float lstat. */
export function sameMtime(rowNs: bigint, f: WalkFile): boolean {
  if (f.exact) return rowNs === f.mtimeNs;
  const d = rowNs / 1000n - f.mtimeNs / 1000n;
  return d <= 1n && d >= -1n;
}

/** What changed in a volume's tree since its last index, by a shallow look (see treeChanges). */
export interface TreeChanges {
  /** Files where no present row is: new ones, or back at a missing or offloaded path. */
  new: number;
  /** Present rows whose file has another size or mtime. */
  changed: number;
  /** Present rows with no file (newly excluded ones too); 0 when the walk met an error. */
  missing: number;
}

/**
 * A cheap look at a volume's tree against its index: the walk of `index --shallow` (float lstat,
 * the volume's exclude patterns, no hashing) compared with the live rows by size and mtime.
 * Nothing is recorded or removed. Throws what the volume identity check throws. The walk comes in
 * path order and is merged with the rows read a page at a time (memory stays flat).
 */
export function treeChanges(ctx: OpContext, volume: string): TreeChanges {
  const root = checkVolumeIdentity(ctx.db, ctx.config.volumes, volume);
  const rows = new RowMerge(ctx.db, volume);
  const out: TreeChanges = { new: 0, changed: 0, missing: 0 };
  let missing = 0;
  const passed = (r: { status: string }) => void (r.status === "present" && missing++);
  let errors = 0;
  const top = openRoot(root);
  try {
    walk(
      top,
      (f) => {
        const row = rows.take(f.rel, passed);
        if (!row || row.status !== "present") out.new++;
        else if (Number(row.size) !== f.size || !sameMtime(row.mtime_ns, f)) out.changed++;
      },
      (p) => void (p.error && errors++),
      false,
      undefined,
      excludeMatcher(ctx.config.volumes[volume]?.exclude),
    );
  } finally {
    top.close();
  }
  rows.rest(passed);
  if (errors === 0) out.missing = missing;
  return out;
}
