// The secondary digests a handler compares a destination's stored hashes with (HandlerContext
// .digests) against a real database: computed once from the same read as a BLAKE3 check, cached
// by content, and withheld for a file whose bytes are no longer the indexed content.

import { expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beginRun } from "../../src/kernel/runs.ts";
import { cachedDigest, ensureContent } from "../../src/kernel/files.ts";
import { hashBytes } from "../../src/kernel/hash.ts";
import type { ManifestEntry } from "../../src/kernel/plugin.ts";
import type { OpContext } from "../../src/ops/context.ts";
import { handlerContext } from "../../src/ops/dest-open.ts";
import { tempDbPerTest } from "../helpers.ts";

const T = tempDbPerTest("hoard-digests-");

const sha256 = (b: string | Buffer) => createHash("sha256").update(b).digest("hex");

function setup(files: Record<string, string>) {
  T.db.run("INSERT INTO volumes(name, path, created_at, updated_at) VALUES ('v', ?, 0, 0)", T.dir);
  const run = beginRun(T.db, { kind: "index", volume: "v", node: "n1" });
  const manifest: ManifestEntry[] = Object.entries(files).map(([path, data]) => {
    writeFileSync(join(T.dir, path), data);
    const blake3 = hashBytes(Buffer.from(data));
    const { id } = ensureContent(T.db, blake3, data.length, "n1", run.id);
    return { path, size: data.length, mtimeNs: 0n, blake3, contentId: id, originNode: "n1", originRun: run.id, status: "present" };
  });
  const ctx = { db: T.db, progress: () => {}, log: { debug() {}, info() {}, warn() {}, error() {} } } as unknown as OpContext;
  const hctx = handlerContext(ctx, { runId: run.id, volume: "v", volumeRoot: T.dir, epoch: 1n, signal: new AbortController().signal, warnings: [] });
  return { manifest, hctx };
}

test("computed from the indexed bytes, cached by content; a second call reads nothing (the cache answers even when the file is gone)", async () => {
  const { manifest, hctx } = setup({ "a.txt": "alpha", "b.txt": "bravo" });
  const got = await hctx.digests(manifest, "sha256");
  expect(got).toEqual(new Map([[manifest[0]!.contentId, sha256("alpha")], [manifest[1]!.contentId, sha256("bravo")]]));
  expect(cachedDigest(T.db, manifest[0]!.contentId, "sha256")).toBe(sha256("alpha"));
  rmSync(join(T.dir, "a.txt"));
  expect((await hctx.digests(manifest, "sha256")).get(manifest[0]!.contentId)).toBe(sha256("alpha"));
});

test("a file whose bytes changed since indexing gets no digest, and nothing is cached for its content", async () => {
  const { manifest, hctx } = setup({ "a.txt": "alpha", "b.txt": "bravo" });
  writeFileSync(join(T.dir, "a.txt"), "ALPHA"); // same size, other bytes
  const got = await hctx.digests(manifest, "sha1");
  expect(got.has(manifest[0]!.contentId)).toBe(false);
  expect(got.get(manifest[1]!.contentId)).toBe(createHash("sha1").update("bravo").digest("hex"));
  expect(cachedDigest(T.db, manifest[0]!.contentId, "sha1")).toBeUndefined();
});

test("an offloaded entry (no local bytes) is answered only from the cache", async () => {
  const { manifest, hctx } = setup({ "a.txt": "alpha" });
  const off: ManifestEntry = { ...manifest[0]!, status: "offloaded" };
  expect((await hctx.digests([off], "md5")).size).toBe(0);
  await hctx.digests(manifest, "md5");
  expect((await hctx.digests([off], "md5")).get(off.contentId)).toBe(createHash("md5").update("alpha").digest("hex"));
});
