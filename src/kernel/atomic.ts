// Atomic file writes for plugins and the kernel: a private O_EXCL temp beside the target, fsync,
// then rename (or link, never replacing) onto the name, then fsync of the directory.

import { closeSync, constants, fsyncSync, linkSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";

export interface AtomicWriteOptions {
  /** false: never replace an existing name (fails with EEXIST, the temp removed). Default true. */
  replace?: boolean;
  /** Permission bits of a new file (before the umask). Default 0o666. */
  mode?: number;
}

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

/**
 * Write `data` to `path` so that a reader (or a crash) sees the old file or the whole new one, never a
 * part: the bytes go to a new temp file in the same directory (O_EXCL, so nothing else is written
 * through), are fsynced, then renamed onto `path` (or, with `replace: false`, linked, which fails if
 * the name exists), and the directory is fsynced. On any error the temp is removed and the error
 * rethrown; an async iterable that throws (e.g. a hash check at its end) leaves `path` untouched.
 * The final name is never followed: a symlink there is replaced, not written through. `path` may be
 * an anchored entry (`dir.at(name)`): the temp and the directory fsync then stay on that handle.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>, opts: AtomicWriteOptions = {}): Promise<void> {
  const { dir, name } = split(path);
  const tmp = `${dir === "/" ? "" : dir}/.${name.slice(0, 200)}.${randomBytes(6).toString("hex")}.tmp`;
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), opts.mode ?? 0o666);
  let open = true;
  try {
    if (typeof data === "string") writeAll(fd, Buffer.from(data, "utf8"));
    else if (data instanceof Uint8Array) writeAll(fd, data);
    else if (Symbol.asyncIterator in data) for await (const c of data) writeAll(fd, c);
    else for (const c of data) writeAll(fd, c);
    fsyncSync(fd);
    closeSync(fd);
    open = false;
    if (opts.replace === false) {
      linkSync(tmp, path);
      unlinkSync(tmp);
    } else renameSync(tmp, path);
  } catch (e) {
    if (open) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {}
    throw e;
  }
  syncDir(dir);
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
