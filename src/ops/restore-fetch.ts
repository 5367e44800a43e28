// Fetching one offloaded file for a restore: from a destination into hoard's private directory, then into the
// volume through the anchored parent handle as a temp file whose BLAKE3 is read back from its own handle.

import { closeSync, constants, fsyncSync, futimesSync, lstatSync, openSync, readdirSync, readSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { checkDestinationIdentity } from "../kernel/dest-identity.ts";
import type { GateRow } from "../kernel/livescan.ts";
import { hashFileFromHandle } from "../kernel/hash.ts";
import type { Dir } from "../kernel/anchored.ts";
import type { ManifestEntry } from "../kernel/plugin.ts";
import type { OpContext } from "./context.ts";
import { handlerContext, openDestination } from "./dest-open.ts";

/** Prefix of the temp file a restore writes beside its target. */
export const RESTORE_TEMP_PREFIX = ".hoard-restore-";

/** Copy a private file into a new file `name` of `dir` (created O_EXCL through the handle). */
function copyInto(src: string, dir: Dir, name: string): void {
  const from = openSync(src, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const to = dir.openFile(name, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o666);
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      for (let n; (n = readSync(from, buf, 0, buf.length, null)) > 0; ) for (let off = 0; off < n; ) off += writeSync(to, buf, off, n - off);
    } finally {
      closeSync(to);
    }
  } finally {
    closeSync(from);
  }
}

/**
 * The fetch of one run: `(f, from, dir)` fetches `f` from destination `from` (its identity checked once per
 * run) and lands it as a checked temp file in `dir` (BLAKE3 of what landed, times set, fsynced); returns the
 * temp name. A failure leaves no temp behind.
 */
export function fetcher(ctx: OpContext, o: { runId: bigint; volume: string; root: string; priv: string; bwlimit?: string }) {
  const epochs = new Map<string, bigint | Error>(); // destination -> epoch once its identity was checked, or why not
  const warnings: string[] = [];
  return async (f: GateRow, from: string, dir: Dir): Promise<string> => {
    const dest = openDestination(ctx, from);
    if (!epochs.has(from))
      try {
        epochs.set(from, (await checkDestinationIdentity(ctx.db, from, dest.handler)).epoch);
      } catch (e) {
        epochs.set(from, e instanceof Error ? e : new Error(String(e)));
      }
    const epoch = epochs.get(from)!;
    if (epoch instanceof Error) throw epoch;
    const entry: ManifestEntry = { path: f.path, size: Number(f.size), mtimeNs: f.mtime_ns, blake3: f.blake3, contentId: f.content_id, originNode: f.origin_node, originRun: f.origin_run, status: "offloaded" };
    const fetched = join(o.priv, randomUUID());
    const tmp = `${RESTORE_TEMP_PREFIX}${randomUUID()}`;
    let landed = false;
    try {
      await dest.handler.fetch(entry, fetched, { ...handlerContext(ctx, { runId: o.runId, volume: o.volume, volumeRoot: o.root, epoch, signal: new AbortController().signal, warnings }), bwlimit: o.bwlimit });
      if (!lstatSync(fetched).isFile()) throw new Error(`${from} did not fetch a regular file`);
      try {
        renameSync(fetched, dir.at(tmp));
        landed = true;
      } catch (e: any) {
        if (e?.code !== "EXDEV") throw e;
        landed = true; // copyInto creates it: remove it on any failure
        copyInto(fetched, dir, tmp);
      }
      const fd = dir.openFile(tmp, constants.O_RDWR | (constants.O_NONBLOCK ?? 0));
      try {
        const h = await hashFileFromHandle(fd);
        if (h.changed || h.blake3 !== f.blake3) throw new Error(`bytes from ${from} do not match the index (BLAKE3 ${h.blake3.slice(0, 16)}…, expected ${f.blake3.slice(0, 16)}…)`);
        const sec = Number(f.mtime_ns / 1000n) / 1e6;
        futimesSync(fd, sec, sec);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      return tmp;
    } catch (e) {
      if (landed) rmTemp(dir, tmp);
      throw e;
    } finally {
      rmSync(fetched, { force: true, recursive: true });
    }
  };
}

/**
 * Remove the private fetch directories of restores that are no longer running (killed ones leave theirs):
 * hoard's own directory (0700, under its data dir), named run-<id>-…; a live run's is left alone.
 */
export function removeDeadFetchDirs(ctx: OpContext, fetchDir: string): void {
  for (const name of readdirSync(fetchDir)) {
    const m = /^run-(\d+)-/.exec(name);
    if (!m) continue;
    const r = ctx.db.get<{ status: string }>("SELECT status FROM runs WHERE id = ?", BigInt(m[1]!));
    if (r?.status === "running") continue;
    rmSync(join(fetchDir, name), { recursive: true, force: true });
  }
}

/** Remove a restore temp through its directory handle (it is ours; a symlink is removed, not followed). */
export function rmTemp(dir: Dir, tmp: string): void {
  try {
    dir.unlink(tmp);
  } catch {
    /* already gone, or not removable: the next index removes leftovers */
  }
}
