// Atomic file writes for plugins and the kernel: a private O_EXCL temp beside the target, fsync,
// then rename (or link, never replacing) onto the name, then fsync of the directory.

import { closeSync, constants, fchmodSync, fsyncSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";

export interface AtomicWriteOptions {
  /** false: never replace an existing name (fails with EEXIST, the temp removed). Default true. */
  replace?: boolean;
  /** Permission bits of a new file (before the umask). Default 0o666. */
  mode?: number;
  /** Give the file exactly `mode`, whatever the umask (fchmod). */
  exactMode?: boolean;
  /**
   * Ignore a failed fsync of the directory (some file systems cannot fsync one; the rename itself
   * is still atomic). Default: the failure is thrown, after the rename.
   */
  bestEffortDirSync?: boolean;
}

type Chunks = string | Uint8Array | Iterable<Uint8Array>;

/** The directory part and final name of a "/"-separated path (a path ending in "/" has no name). */
function split(path: string): { dir: string; name: string } {
  const i = path.lastIndexOf("/");
  const name = path.slice(i + 1);
  if (!name || name === "." || name === "..") throw Object.assign(new Error(`writeFileAtomic: ${JSON.stringify(path)} does not name a file`), { code: "EINVAL" });
  return { dir: i < 0 ? "." : i === 0 ? "/" : path.slice(0, i), name };
}

function writeAll(fd: number, chunk: Uint8Array): void {
  for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off, chunk.length - off);
}

interface Temp {
  path: string;
  dir: string;
  tmp: string;
  fd: number;
  open: boolean;
}

/** A new temp file beside `path`, open for writing (O_EXCL, never through a symlink). */
function begin(path: string, opts: AtomicWriteOptions): Temp {
  const { dir, name } = split(path);
  const tmp = `${dir === "/" ? "" : dir}/.${name.slice(0, 200)}.${randomBytes(6).toString("hex")}.tmp`;
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), opts.mode ?? 0o666);
  const t = { path, dir, tmp, fd, open: true };
  if (opts.exactMode)
    try {
      fchmodSync(fd, opts.mode ?? 0o666);
    } catch (e) {
      abandon(t);
      throw e;
    }
  return t;
}

/** Close and remove the temp (after a failure). */
function abandon(t: Temp): void {
  if (t.open) closeSync(t.fd);
  t.open = false;
  try {
    unlinkSync(t.tmp);
  } catch {}
}

/** Write the whole of a string, a byte array or the chunks of a (sync) iterable to the temp. */
function writeChunks(t: Temp, data: Chunks): void {
  if (typeof data === "string") writeAll(t.fd, Buffer.from(data, "utf8"));
  else if (data instanceof Uint8Array) writeAll(t.fd, data);
  else for (const c of data) writeAll(t.fd, c);
}

/** fsync the temp, put it onto its name (rename, or link when never replacing), fsync the directory. */
function commit(t: Temp, opts: AtomicWriteOptions): void {
  try {
    fsyncSync(t.fd);
    closeSync(t.fd);
    t.open = false;
    if (opts.replace === false) {
      linkSync(t.tmp, t.path);
      unlinkSync(t.tmp);
    } else renameSync(t.tmp, t.path);
  } catch (e) {
    abandon(t);
    throw e;
  }
  try {
    syncDir(t.dir);
  } catch (e) {
    if (!opts.bestEffortDirSync) throw e;
  }
}

/**
 * Write `data` to `path` so that a reader (or a crash) sees the old file or the whole new one, never a
 * part: the bytes go to a new temp file in the same directory (O_EXCL, so nothing else is written
 * through), are fsynced, then renamed onto `path` (or, with `replace: false`, linked, which fails if
 * the name exists), and the directory is fsynced. On any error the temp is removed and the error
 * rethrown; an async iterable that throws (e.g. a hash check at its end) leaves `path` untouched.
 * The final name is never followed: a symlink there is replaced, not written through. `path` may be
 * an anchored entry (`dir.at(name)`): the temp and the directory fsync then stay on that handle.
 */
export async function writeFileAtomic(path: string, data: Chunks | AsyncIterable<Uint8Array>, opts: AtomicWriteOptions = {}): Promise<void> {
  const t = begin(path, opts);
  try {
    if (typeof data === "object" && Symbol.asyncIterator in data) for await (const c of data) writeAll(t.fd, c);
    else writeChunks(t, data);
  } catch (e) {
    abandon(t);
    throw e;
  }
  commit(t, opts);
}

/** writeFileAtomic for data already at hand, without a promise (config edits, markers, local state). */
export function writeFileAtomicSync(path: string, data: Chunks, opts: AtomicWriteOptions = {}): void {
  const t = begin(path, opts);
  try {
    writeChunks(t, data);
  } catch (e) {
    abandon(t);
    throw e;
  }
  commit(t, opts);
}

/** fsync a directory (makes the entry changes in it durable). */
export function syncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | (constants.O_DIRECTORY ?? 0));
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
