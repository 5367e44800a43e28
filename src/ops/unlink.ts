// The last checks before hoard deletes a local file (DESIGN invariants 6 and 10): the file is reached through
// directory handles opened from the volume root without following symlinks, and only the checked inode is unlinked.

import { closeSync, constants, fstatSync, type BigIntStats } from "node:fs";
import { randomUUID } from "node:crypto";
import { hashFileFromHandle } from "../kernel/hash.ts";
import { AnchorError, openRoot, splitRel, type Dir } from "../kernel/anchored.ts";

export type UnlinkCheck = { ok: true } | { ok: false; code: "parent_not_dir" | "not_regular" | "gone" | "drift" | "inode_changed" | "io"; message: string };

export interface Expected {
  size: number;
  mtimeNs: bigint;
  blake3: string;
}

/** Prefix of the private name a file is moved to, in its own directory, right before it is unlinked. */
export const OFFLOAD_TEMP_PREFIX = ".hoard-offload-";

const errText = (e: any) => e?.code ?? e?.message ?? String(e);

/**
 * Re-verify the file right before unlinking it; unlink only if every check passes:
 * 1. its parents open from `root` one component at a time, each a real directory (never a symlink);
 * 2. the file opens O_NOFOLLOW through that parent handle and the handle is a regular file with the
 *    indexed size, mtime and BLAKE3 (hashed from the handle);
 * 3. unlinkChecked: it is renamed to a private name in the same anchored directory, the moved entry is
 *    checked to be that very inode, and only then unlinked.
 */
export async function verifiedUnlink(root: string, rel: string, exp: Expected): Promise<UnlinkCheck> {
  const { parents, name } = splitRel(rel);
  const rootDir = openRoot(root); // no /proc: a refusal (nothing is deleted by path instead)
  let dir: Dir;
  try {
    dir = rootDir.openDir(parents);
  } catch (e) {
    if (!(e instanceof AnchorError)) throw e;
    if (e.kind === "missing") return { ok: false, code: "gone", message: `parent ${e.message}` };
    if (e.kind === "io") return { ok: false, code: "io", message: `parent: ${e.message}` };
    return { ok: false, code: "parent_not_dir", message: `parent ${e.message}: refusing to delete through it` };
  } finally {
    rootDir.close();
  }
  try {
    let fd: number;
    try {
      fd = dir.openFile(name, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    } catch (e) {
      if (!(e instanceof AnchorError)) throw e;
      if (e.kind === "symlink") return { ok: false, code: "not_regular", message: "not a regular file anymore (a symbolic link): not followed" };
      if (e.kind === "missing") return { ok: false, code: "gone", message: "file is gone (ENOENT)" };
      return { ok: false, code: "io", message: e.message };
    }
    try {
      const st = fstatSync(fd, { bigint: true });
      if (!st.isFile()) return { ok: false, code: "not_regular", message: "not a regular file anymore" };
      if (Number(st.size) !== exp.size || st.mtimeNs !== exp.mtimeNs)
        return { ok: false, code: "drift", message: `changed since it was indexed (size ${st.size} vs ${exp.size}, mtime differs: ${st.mtimeNs !== exp.mtimeNs}); index again` };
      const h = await hashFileFromHandle(fd);
      if (h.changed || h.blake3 !== exp.blake3) return { ok: false, code: "drift", message: "content differs from the index (changed since indexing); index again" };
      return unlinkChecked(dir, name, st);
    } catch (e: any) {
      return { ok: false, code: "io", message: `cannot check: ${errText(e)}` };
    } finally {
      closeSync(fd);
    }
  } finally {
    dir.close();
  }
}

/**
 * Unlink the entry `name` of `dir` only if it is the inode `checked` (from the fstat of a handle the
 * caller verified): rename it to a private name in the same directory, lstat the moved entry, unlink it
 * if it is that inode; otherwise put it back (never replacing anything) and report.
 */
export function unlinkChecked(dir: Dir, name: string, checked: BigIntStats): UnlinkCheck {
  const priv = `${OFFLOAD_TEMP_PREFIX}${randomUUID()}`;
  try {
    dir.rename(name, dir, priv);
  } catch (e: any) {
    if (e?.code === "ENOENT") return { ok: false, code: "gone", message: "file vanished during the check (ENOENT)" };
    return { ok: false, code: "io", message: `cannot move it aside for the unlink: ${errText(e)}` };
  }
  const moved = dir.stat(priv);
  if (!moved) return { ok: false, code: "gone", message: "file vanished during the check" };
  if (moved.dev !== checked.dev || moved.ino !== checked.ino || !moved.isFile())
    return { ok: false, code: "inode_changed", message: `the file was replaced between the check and the unlink; nothing deleted (${putBack(dir, priv, name)})` };
  try {
    dir.unlink(priv);
  } catch (e: any) {
    return { ok: false, code: "io", message: `unlink failed: ${errText(e)} (${putBack(dir, priv, name)})` };
  }
  return { ok: true };
}

/** Move `priv` back to `name` without replacing whatever may be at `name` now; says what happened. */
function putBack(dir: Dir, priv: string, name: string): string {
  try {
    dir.link(priv, dir, name);
    dir.unlink(priv);
    return "the entry found was put back";
  } catch (e: any) {
    if (e?.code !== "EEXIST" && !dir.stat(name)) {
      try {
        dir.rename(priv, dir, name); // e.g. a directory (no hard links): the name is still free
        return "the entry found was put back";
      } catch {}
    }
    return `the entry found was left at ${dir.path}/${priv}`;
  }
}
