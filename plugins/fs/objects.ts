// The read side of the fs destination: hash an object through its anchored handle, stat it, and check an
// entry against it (a receipt spares the read of an object unchanged since its last check, and says so).

import type { FileOutcome, HandlerContext, ManifestEntry } from "hoard/plugin";
import { closeSync, fstatSync, readSync, type BigIntStats } from "node:fs";
import type { Dir } from "../../src/kernel/anchored.ts";
import { hashBytes } from "../../src/kernel/hash.ts";
import { buffer, CHUNK, EntryError, errText, fsyncAsync, place, RD, refusal, yieldTurn, YIELD_EVERY, type FsDest } from "./common.ts";
import type { Receipts } from "./receipts.ts";
import type { Tree } from "./tree.ts";

/**
 * BLAKE3 of an open descriptor from offset 0, and whether its size or mtime moved while it was read
 * (`after`: its fstat once read). A file read whole by the first read is hashed in one call: a streaming
 * hasher costs more to create than a small file costs to hash.
 */
export async function hashFd(d: FsDest, fd: number, signal?: AbortSignal): Promise<{ digest: string; before: BigIntStats; after: BigIntStats; changed: boolean }> {
  const before = fstatSync(fd, { bigint: true });
  if (!before.isFile()) throw new EntryError(`not a regular file at ${d.name}`);
  const buf = buffer();
  let n = readSync(fd, buf, 0, CHUNK, 0);
  let pos = n;
  let digest: string;
  if (n < CHUNK && pos >= Number(before.size)) digest = hashBytes(buf.subarray(0, n));
  else {
    const h = d.api.util.blake3Stream();
    let since = 0;
    for (;;) {
      if (n === 0) break;
      h.update(n === CHUNK ? buf : buf.subarray(0, n));
      if (n < CHUNK && pos >= Number(before.size)) break;
      if ((since += n) >= YIELD_EVERY) {
        since = 0;
        await yieldTurn();
        signal?.throwIfAborted();
      }
      n = readSync(fd, buf, 0, CHUNK, pos);
      pos += n;
    }
    digest = h.digestHex();
  }
  const after = fstatSync(fd, { bigint: true });
  return { digest, before, after, changed: after.size !== before.size || after.mtimeNs !== before.mtimeNs || BigInt(pos) !== before.size };
}

export const differs = (d: FsDest, digest: string, e: ManifestEntry) => `content at ${d.name} differs (BLAKE3 ${digest.slice(0, 16)}…, expected ${e.blake3.slice(0, 16)}…)`;

/** Acquire the directory of `e`'s object (the caller releases `parents`); an unusable directory is a refusal. */
function objectDir(d: FsDest, dst: Tree, e: ManifestEntry, volume: string): { parents: string[]; base: string; dir: Dir } {
  const { parents, name: base } = place(e.path, volume);
  try {
    return { parents, base, dir: dst.acquire(parents) };
  } catch (err) {
    throw refusal(err, d.name);
  }
}

/**
 * Open the object of `e` at the destination (never through a link) and hash it; the caller compares. With
 * `durable`, the object is fsynced and its directory marked changed (fsynced before any claim): what was
 * read may sit only in the page cache (a copy made by another tool, or a push killed before its fsyncs).
 */
export async function readObject(d: FsDest, dst: Tree, e: ManifestEntry, volume: string, signal?: AbortSignal, durable = false): Promise<{ digest: string; st: BigIntStats; changed: boolean }> {
  const { parents, base, dir } = objectDir(d, dst, e, volume); // released below
  try {
    let fd: number;
    try {
      fd = dir.openFile(base, RD);
    } catch (err) {
      throw refusal(err, d.name);
    }
    try {
      const h = await hashFd(d, fd, signal);
      if (Number(h.before.size) !== e.size) throw new EntryError(`size at ${d.name} is ${h.before.size}, expected ${e.size}`);
      if (durable) {
        await fsyncAsync(fd).catch((err) => {
          throw new EntryError(`could not make the object durable at ${d.name}: ${errText(err)}`);
        });
        dst.dirty(parents, e.path);
      }
      return { digest: h.digest, st: h.before, changed: h.changed };
    } finally {
      closeSync(fd);
    }
  } finally {
    dst.release(parents);
  }
}

/** lstat of the object of `e` (a symlink is refused, never followed); its size must be the entry's. */
export function statObject(d: FsDest, dst: Tree, e: ManifestEntry, volume: string): BigIntStats {
  const { parents, base, dir } = objectDir(d, dst, e, volume); // released below
  try {
    const st = dir.stat(base);
    if (!st) throw new EntryError(`missing at ${d.name}`, true);
    if (st.isSymbolicLink()) throw new EntryError(`not a regular file at ${d.name} (a symbolic link: not followed)`);
    if (!st.isFile()) throw new EntryError(`not a regular file at ${d.name}`);
    if (Number(st.size) !== e.size) throw new EntryError(`size at ${d.name} is ${st.size}, expected ${e.size}`);
    return st;
  } finally {
    dst.release(parents);
  }
}

export async function checkOne(d: FsDest, dst: Tree, e: ManifestEntry, ctx: HandlerContext, receipts: Receipts, useReceipt: boolean): Promise<FileOutcome> {
  const rc = receipts.get(e.path);
  // a receipt saves the read-back of an object unchanged since its last check; it is reported as
  // such (unchanged since then), never as verified now, and never for an entry due for a check
  if (useReceipt && !e.recheck && rc && rc.blake3 === e.blake3) {
    const st = statObject(d, dst, e, ctx.volume);
    if (rc.size === Number(st.size) && rc.mtime_ns === String(st.mtimeNs)) {
      const now = d.api.util.nowNs();
      const at = BigInt(rc.checked_at);
      return { path: e.path, ok: true, unchanged: true, method: "blake3", verifiedAt: at < now ? at : now };
    }
  }
  const { digest, st, changed } = await readObject(d, dst, e, ctx.volume, ctx.signal, true);
  const now = d.api.util.nowNs();
  if (digest === e.blake3 && !changed) receipts.set(e.path, { blake3: digest, size: Number(st.size), mtime_ns: String(st.mtimeNs), checked_at: String(now) });
  else receipts.delete(e.path);
  receipts.dirty = true;
  if (digest !== e.blake3) throw new EntryError(differs(d, digest, e));
  return { path: e.path, ok: true, method: "blake3", verifiedAt: now };
}
