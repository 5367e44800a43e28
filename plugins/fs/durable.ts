// Making a batch of staged copies durable before any of them is placed or claimed: one syncfs per local
// file system holding them where the runtime can call it (Linux ≥ 5.8 reports write-back errors), else an fsync each.

import { statfsSync } from "node:fs";
import { syncfsCall } from "../../src/kernel/runtime.ts";
import { fsyncAsync } from "./common.ts";

/** What the durability step needs of a staged copy: its descriptor (-1: closed, see `settledBySyncfs`) and its file system. */
export interface Pending {
  fd: number;
  st: { dev: bigint };
  /** Its bytes were written before `fd` was opened (a kernel copy): syncfs through a descriptor opened
   * later may not report their write-back errors, so it is fsynced itself as well. */
  writtenBeforeOpen?: boolean;
}

/**
 * File systems whose syncfs writes back every dirty page and inode and commits them like fsync does
 * (statfs f_type: ext2/3/4, xfs, btrfs, f2fs, tmpfs). Elsewhere (FUSE, NFS, …) syncfs may do less than
 * an fsync of each file would, so each file is fsynced.
 */
const SYNCFS_TYPES = new Set([0xef53, 0x58465342, 0x9123683e, 0xf2f52010, 0x01021994]);
const syncfsOk = new Map<bigint, boolean>();
function canSyncfs(p: Pending): boolean {
  let ok = syncfsOk.get(p.st.dev);
  if (ok === undefined) {
    try {
      ok = SYNCFS_TYPES.has(Number(statfsSync(`/proc/self/fd/${p.fd}`).type));
    } catch {
      ok = false;
    }
    syncfsOk.set(p.st.dev, ok);
  }
  return ok;
}

/**
 * Whether the descriptor of `p`, staged into a batch after those in `anchors` (the file systems whose
 * first copy in the batch is syncfs-able, with its descriptor kept open), may be closed before the batch
 * is made durable: the syncfs through that first descriptor covers it. The first such copy on a file
 * system becomes its anchor (kept); so is every copy written before its descriptor was opened, and every
 * copy where there is no syncfs (fsynced each).
 */
export function settledBySyncfs(p: Pending, anchors: Set<bigint>): boolean {
  if (!syncfsCall() || !canSyncfs(p)) return false;
  if (!anchors.has(p.st.dev)) {
    anchors.add(p.st.dev);
    return false;
  }
  return !p.writtenBeforeOpen;
}

/**
 * Make the bytes (and inodes) of `batch` durable. Per file system, syncfs through the descriptor staged
 * first there: it was opened before any byte of the batch on that file system was written, so every
 * write-back error since (recorded per file system) is reported by that call, and fails every copy of
 * that file system; a copy written before its own descriptor was opened is fsynced as well. Without syncfs, each copy is fsynced (concurrently). Returns why each copy is not
 * durable (undefined: it is).
 */
export async function makeDurable(batch: Pending[]): Promise<(string | undefined)[]> {
  const out: (string | undefined)[] = new Array(batch.length).fill(undefined);
  const syncfs = syncfsCall();
  const byDev = new Map<bigint, number[]>();
  batch.forEach((p, i) => {
    const l = byDev.get(p.st.dev);
    if (l) l.push(i);
    else byDev.set(p.st.dev, [i]);
  });
  const each: number[] = [];
  for (const idx of byDev.values()) {
    const first = batch[idx[0]!]!;
    if (!syncfs || !canSyncfs(first)) {
      for (const i of idx) each.push(i);
      continue;
    }
    try {
      syncfs(first.fd);
    } catch (e: any) {
      for (const i of idx) out[i] = `syncfs failed: ${e?.code ?? e?.message}`;
    }
    for (const i of idx) if (batch[i]!.writtenBeforeOpen && out[i] === undefined) each.push(i);
  }
  await Promise.all(
    each.map(async (i) => {
      try {
        if (batch[i]!.fd < 0) throw new Error("its descriptor was closed"); // never: settledBySyncfs kept it
        await fsyncAsync(batch[i]!.fd);
      } catch (e: any) {
        out[i] = `fsync failed: ${e?.code ?? e?.message}`;
      }
    }),
  );
  return out;
}
