// The write side of the fs destination: copy a checked local file into a temp beside its target and check the
// temp's BLAKE3 against the index (stage); once it is durable, keep whatever held the name under .hoard/history and rename it (place).

import type { FileOutcome, HandlerContext, ManifestEntry } from "hoard/plugin";
import { closeSync, constants, copyFileSync, fstatSync, futimesSync, readSync, writeSync, type BigIntStats } from "node:fs";
import { randomUUID } from "node:crypto";
import { AnchorError, type Dir } from "../../src/kernel/anchored.ts";
import { buffer, CHUNK, EntryError, errText, HISTORY, NO_HARD_LINKS, nsToSeconds, place, RD, refusal, TEMP_PREFIX, type FsDest } from "./common.ts";
import { hashFd } from "./objects.ts";
import type { Receipts } from "./receipts.ts";
import type { Tree } from "./tree.ts";

/** A checked copy of one entry in a temp file beside its target: not yet durable, not yet placed. */
export interface Staged {
  e: ManifestEntry;
  /** The target's directory (held: released by placeStaged or discard) and name in it. */
  parents: string[];
  dir: Dir;
  base: string;
  tmp: string;
  /** The temp's descriptor, open until it is placed or discarded (its fsync, or the syncfs of its file system),
   * or -1 once closed early (the batch's syncfs through another descriptor covers it: settledBySyncfs). */
  fd: number;
  /** The temp after its times were set: what it holds once placed. */
  st: BigIntStats;
  /** Copied in the kernel before `fd` was opened (see makeDurable). */
  writtenBeforeOpen: boolean;
}

/**
 * Copy the local file of `e` into a new temp beside its target: the source is opened O_NOFOLLOW through
 * handles from the volume root and must be the indexed regular file (size); its bytes go into a temp created
 * through the destination directory's handle, whose BLAKE3 (read back) must be the index's, and which takes
 * the source's times. Nothing is durable yet: the caller makes a batch of temps durable, then places them.
 */
export async function stage(d: FsDest, src: Tree, dst: Tree, e: ManifestEntry, ctx: HandlerContext): Promise<Staged> {
  const { parents: sp, name: base } = place(e.path);
  // 1. the source, through its handle
  let sfd: number;
  try {
    const sdir = src.acquire(sp);
    try {
      sfd = sdir.openFile(base, RD);
    } finally {
      src.release(sp);
    }
  } catch (err) {
    if (err instanceof AnchorError && err.kind === "symlink") throw new EntryError(`copy refused: the local file or a parent directory is a symbolic link now (${err.message}); index again`);
    if (err instanceof AnchorError && err.kind === "missing") throw new EntryError(`copy failed: the local file is gone (${err.message}); index again`);
    throw new EntryError(`copy failed: ${errText(err)}`);
  }
  const { parents } = place(e.path, ctx.volume);
  let dir: Dir | undefined;
  let tmp = "";
  let tfd = -1;
  let staged = false;
  try {
    const sst = fstatSync(sfd, { bigint: true });
    if (!sst.isFile()) throw new EntryError("copy refused: the local file is not a regular file anymore; index again");
    // the size must be the indexed one; the copy's BLAKE3 decides the rest (a file touched back to
    // its indexed bytes may be pushed: what lands is checked against the index before it is placed)
    if (Number(sst.size) !== e.size) throw new EntryError(`copy refused: the local file probably changed since it was indexed (size ${sst.size} vs ${e.size}); index again`);
    // 2. a temp file beside the target, through the destination directory's handle
    try {
      dir = dst.acquire(parents, true);
    } catch (err) {
      throw refusal(err, d.name);
    }
    tmp = `${TEMP_PREFIX}${randomUUID()}`;
    if (e.size > CHUNK) {
      // in the kernel (copy_file_range): from the checked handle itself (/proc/self/fd/N reopens that very
      // file, wherever it is now) into a new file (O_EXCL: never through a link) of the anchored directory
      copyFileSync(`/proc/self/fd/${sfd}`, dir.at(tmp), constants.COPYFILE_EXCL);
      tfd = dir.openFile(tmp, constants.O_RDWR);
    } else {
      tfd = dir.openFile(tmp, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, Number(sst.mode & 0o777n));
      const buf = buffer();
      const n = readSync(sfd, buf, 0, CHUNK, 0);
      for (let off = 0; off < n; ) off += writeSync(tfd, buf, off, n - off);
    }
    closeSync(sfd);
    sfd = -1;
    // the object keeps the source's times (as cp -p does), set on the temp before its check, so the
    // check's last fstat is what the temp holds once placed
    futimesSync(tfd, nsToSeconds(sst.atimeNs), nsToSeconds(sst.mtimeNs));
    // 3. the temp's bytes are checked before they go anywhere
    const h = await hashFd(d, tfd, ctx.signal);
    if (h.digest !== e.blake3 || h.changed) throw new EntryError(`copy refused: the copied bytes differ from the index (BLAKE3 ${h.digest.slice(0, 16)}…, expected ${e.blake3.slice(0, 16)}…); the local file probably changed since it was indexed (index again)`);
    staged = true;
    return { e, parents, dir, base, tmp, fd: tfd, st: h.after, writtenBeforeOpen: e.size > CHUNK };
  } catch (err) {
    if (err instanceof EntryError) throw err;
    throw new EntryError(`copy failed: ${errText(err)}`);
  } finally {
    if (sfd >= 0) closeSync(sfd);
    if (!staged) {
      if (tfd >= 0) closeSync(tfd);
      if (tmp && dir)
        try {
          dir.unlink(tmp); // our own unchecked temp (a link of that name is removed, not followed)
        } catch {}
      if (dir) dst.release(parents);
    }
  }
}

/** Drop a staged copy that will not be placed: its temp is removed (a link of that name too, never followed). */
export function discard(dst: Tree, s: Staged): void {
  try {
    if (s.fd >= 0) closeSync(s.fd);
  } catch {}
  try {
    s.dir.unlink(s.tmp);
  } catch {}
  dst.release(s.parents);
}

/**
 * Place a staged copy whose bytes are durable: whatever holds the name is kept under .hoard/history, then the
 * checked temp takes the name. Its directory is marked changed (fsynced before any outcome is returned).
 */
export function placeStaged(d: FsDest, dst: Tree, s: Staged, ctx: HandlerContext, receipts: Receipts): FileOutcome {
  const { e, dir, base, parents } = s;
  let placed = false;
  try {
    if (s.fd >= 0) closeSync(s.fd);
    keepOld(d, dst, dir, base, ctx, e.path);
    dir.rename(s.tmp, dir, base);
    placed = true;
    dst.dirty(parents, e.path);
    const now = d.api.util.nowNs();
    receipts.set(e.path, { blake3: e.blake3, size: Number(s.st.size), mtime_ns: String(s.st.mtimeNs), checked_at: String(now) });
    receipts.dirty = true;
    return { path: e.path, ok: true, method: "blake3", verifiedAt: now, transferred: true };
  } catch (err) {
    if (err instanceof EntryError) throw err;
    throw new EntryError(`copy failed: ${errText(err)}`);
  } finally {
    if (!placed)
      try {
        dir.unlink(s.tmp);
      } catch {}
    dst.release(parents);
  }
}

/**
 * Keep the entry `base` of `dir` (an older object, or anything else found there) under
 * .hoard/history/run-<id>/PATH, never replacing an earlier kept entry (PATH.1, PATH.2, … then).
 * With hard links the name keeps pointing at the old object until the rename replaces it.
 */
function keepOld(d: FsDest, dst: Tree, dir: Dir, base: string, ctx: HandlerContext, rel: string): void {
  const st = dir.stat(base);
  if (!st) return;
  if (st.isDirectory()) throw new EntryError(`refused at ${d.name}: a directory is where the file belongs (${dir.path}/${base}); move it away`);
  const hparts = [ctx.volume, ...HISTORY, `run-${ctx.runId}`, ...place(rel).parents];
  let hdir: Dir;
  try {
    hdir = dst.acquire(hparts, true);
  } catch (err) {
    throw new EntryError(`refused at ${d.name}: cannot keep the older copy under ${HISTORY.join("/")}: ${errText(err)}`);
  }
  try {
    for (let k = 0; k < 10_000; k++) {
      const cand = k === 0 ? base : `${base}.${k}`;
      try {
        dir.link(base, hdir, cand);
        dst.dirty(hparts);
        return;
      } catch (err: any) {
        if (err?.code === "EEXIST") continue;
        if (err?.code === "ENOENT") return; // gone meanwhile: nothing to keep
        if (!NO_HARD_LINKS.has(err?.code)) throw err;
        // no hard links here: a plain rename to a name just seen free
        if (hdir.stat(cand)) continue;
        dir.rename(base, hdir, cand);
        dst.dirty(hparts);
        return;
      }
    }
    throw new EntryError(`refused at ${d.name}: no free name under ${HISTORY.join("/")} for ${rel}`);
  } finally {
    dst.release(hparts);
  }
}
