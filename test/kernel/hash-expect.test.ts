// hashFile with `expect` (the walk's lstat instead of an fstat before reading): a file replaced,
// grown or touched between the lstat and the read is reported as changed, never hashed as clean.

import { expect, test } from "bun:test";
import { lstatSync, mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hashFile, hashBytes } from "../../src/kernel/hash.ts";

const stat = (p: string) => {
  const s = lstatSync(p, { bigint: true });
  return { size: Number(s.size), mtimeNs: s.mtimeNs, ino: s.ino };
};

test("unchanged file: same digest as without expect, not changed", async () => {
  const d = mkdtempSync(join(tmpdir(), "hx-"));
  const p = join(d, "f");
  writeFileSync(p, "hello");
  const h = await hashFile(p, { expect: stat(p) });
  expect(h.changed).toBe(false);
  expect(h.blake3).toBe(hashBytes(new TextEncoder().encode("hello")));
  rmSync(d, { recursive: true });
});

test("replaced (other inode), grown, or touched after the lstat: changed", async () => {
  const d = mkdtempSync(join(tmpdir(), "hx-"));
  const p = join(d, "f");
  writeFileSync(p, "hello");
  const before = stat(p);
  writeFileSync(join(d, "g"), "hello");
  renameSync(join(d, "g"), p); // same bytes and size, another inode
  expect((await hashFile(p, { expect: before })).changed).toBe(true);

  const b2 = stat(p);
  writeFileSync(p, "hello, world");
  expect((await hashFile(p, { expect: b2 })).changed).toBe(true);

  const b3 = stat(p);
  utimesSync(p, new Date(), new Date(Date.now() + 5000));
  expect((await hashFile(p, { expect: b3 })).changed).toBe(true);
  rmSync(d, { recursive: true });
});
