// The last checks before hoard deletes a local file (DESIGN invariant 6): real parent directories,
// a regular file whose open handle is the indexed inode with the indexed size, mtime and BLAKE3.

import { lstatSync, unlinkSync, constants } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { hashFileFromHandle } from "../kernel/hash.ts";

export type UnlinkCheck = { ok: true } | { ok: false; code: "parent_not_dir" | "not_regular" | "gone" | "drift" | "inode_changed" | "io"; message: string };

export interface Expected {
  size: number;
  mtimeNs: bigint;
  blake3: string;
}

/** Re-verify the file right before unlinking it; unlink only if every check passes. */
export async function verifiedUnlink(root: string, rel: string, exp: Expected): Promise<UnlinkCheck> {
  // 1. every parent is a real directory (no symlinks), from the volume root down
  const parts = rel.split("/");
  let dir = root;
  for (const p of parts.slice(0, -1)) {
    dir = join(dir, p);
    let st;
    try {
      st = lstatSync(dir);
    } catch (e: any) {
      return { ok: false, code: "gone", message: `parent ${dir} is gone (${e.code})` };
    }
    if (st.isSymbolicLink() || !st.isDirectory()) return { ok: false, code: "parent_not_dir", message: `parent ${dir} is ${st.isSymbolicLink() ? "a symbolic link" : "not a directory"}: refusing to delete through it` };
  }
  const abs = join(root, rel);
  let before;
  try {
    before = lstatSync(abs, { bigint: true });
  } catch (e: any) {
    return { ok: false, code: "gone", message: `file is gone (${e.code})` };
  }
  if (!before.isFile()) return { ok: false, code: "not_regular", message: "not a regular file anymore" };
  // 2. open without following links; the handle must be the same inode
  let fh;
  try {
    fh = await open(abs, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (e: any) {
    return { ok: false, code: "io", message: `cannot open: ${e.code ?? e.message}` };
  }
  try {
    const st = await fh.stat({ bigint: true });
    if (!st.isFile() || st.ino !== before.ino || st.dev !== before.dev) return { ok: false, code: "inode_changed", message: "the file was replaced while being checked" };
    if (Number(st.size) !== exp.size || st.mtimeNs !== exp.mtimeNs)
      return { ok: false, code: "drift", message: `changed since it was indexed (size ${st.size} vs ${exp.size}, mtime differs: ${st.mtimeNs !== exp.mtimeNs}); index again` };
    // 3. size + mtime + BLAKE3 from that very handle
    const h = await hashFileFromHandle(fh);
    if (h.changed || h.blake3 !== exp.blake3) return { ok: false, code: "drift", message: "content differs from the index (changed since indexing); index again" };
  } finally {
    await fh.close();
  }
  // 4. a second lstat still shows the same inode
  let after;
  try {
    after = lstatSync(abs, { bigint: true });
  } catch (e: any) {
    return { ok: false, code: "gone", message: `file vanished during the check (${e.code})` };
  }
  if (after.ino !== before.ino || after.dev !== before.dev || !after.isFile()) return { ok: false, code: "inode_changed", message: "the file was replaced during the check" };
  try {
    unlinkSync(abs);
  } catch (e: any) {
    return { ok: false, code: "io", message: `unlink failed: ${e.code ?? e.message}` };
  }
  return { ok: true };
}
