// confirm(entries, ctx, depth) against the real rclone: a local-path remote (sha256 stored hash,
// large objects streamed into BLAKE3) and `rclone serve webdav` (no stored hash: bytes read back).
// Damage is made at the destination behind hoard's back; receipts must never answer for it.

import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { existsSync, readFileSync, rmSync, truncateSync } from "node:fs";
import { join } from "node:path";
import type { FileOutcome } from "../../src/kernel/plugin.ts";
import { STREAM_MIN } from "../../plugins/rclone/index.ts";
import { cleanup, FAKE_RCLONE, logged, makeCtx, makeVolume, open, outcomes, overwriteKeepingTimes, REAL_RCLONE, serve, tmp, type Server } from "./harness.ts";

setDefaultTimeout(180_000);

let webdav: Server;
beforeAll(async () => {
  webdav = await serve("webdav");
});
afterAll(() => {
  webdav?.stop();
  cleanup();
});


/** Flip one byte of a file in place keeping its size and exact timestamps (touch -r). */
function flipByte(p: string, offset = 0): void {
  const b = readFileSync(p);
  b[offset] = b[offset]! ^ 0xff;
  overwriteKeepingTimes(p, b);
}

const FILES = { "a.txt": "alpha", "d/b c.txt": "bravo with a space", "d/e/[c]*.txt": "charlie", "new\nline.txt": "nl" };
const okOf = (m: Map<string, FileOutcome>) => Object.fromEntries([...m].map(([p, o]) => [p, o.ok]));

describe("confirm on a local-path remote (stored sha256)", () => {
  test("presence: one lsjson of exactly the batch's paths, no hashing; a deleted object is missing, a truncated one is not ok with both sizes", async () => {
    const remote = tmp();
    const vol = makeVolume(FILES);
    const { handler, calls } = logged({ remote });
    await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    calls();
    const ctx = makeCtx(vol, { runId: 8n });
    const before = ctx.now();
    const res = await outcomes(handler.confirm(vol.manifest, ctx, "presence"));
    for (const e of vol.manifest) {
      const o = res.get(e.path) as any;
      expect([e.path, o.ok, o.method, o.unchanged]).toEqual([e.path, true, "presence", undefined]);
      expect(o.verifiedAt).toBeGreaterThanOrEqual(before);
      expect(o.verifiedAt).toBeLessThanOrEqual(ctx.now());
    }
    const c = calls();
    expect(c.map((x) => x.sub)).toEqual(["lsjson"]);
    expect(c[0]!.argv).toContain("--files-from-raw");
    expect(c[0]!.argv).not.toContain("--hash");
    expect(ctx.digestCalls).toEqual([]);

    rmSync(join(remote, "vol", "a.txt"));
    truncateSync(join(remote, "vol", "d", "b c.txt"), 3);
    const after = await outcomes(handler.confirm(vol.manifest, makeCtx(vol, { runId: 9n }), "presence"));
    expect(after.get("a.txt")).toEqual({ path: "a.txt", ok: false, missing: true, reason: "missing at d" });
    const b = after.get("d/b c.txt") as any;
    expect(b.ok).toBe(false);
    expect(b.missing).toBeUndefined();
    expect(b.reason).toBe(`size at d is 3, expected ${FILES["d/b c.txt"].length}`);
    expect(after.get("d/e/[c]*.txt")).toMatchObject({ ok: true, method: "presence" });
    expect(after.get("new\nline.txt")).toMatchObject({ ok: true, method: "presence" });
    expect(calls().map((x) => x.sub)).toEqual(["lsjson"]);
  });

  test("content: one byte flipped keeping size and mtime passes presence but fails content (stored sha256 against the local digest); receipts do not answer", async () => {
    const remote = tmp();
    const vol = makeVolume(FILES);
    const { handler, calls } = logged({ remote });
    await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    flipByte(join(remote, "vol", "d", "e", "[c]*.txt"), 2);
    // a push accepts the damaged object on its receipt (size and modtime unchanged): not a verification
    const pushed = await outcomes(handler.push(vol.manifest, makeCtx(vol, { runId: 8n })));
    expect(pushed.get("d/e/[c]*.txt")).toMatchObject({ ok: true, unchanged: true });
    calls();

    const pres = await outcomes(handler.confirm(vol.manifest, makeCtx(vol, { runId: 9n }), "presence"));
    expect(okOf(pres)).toEqual({ "a.txt": true, "d/b c.txt": true, "d/e/[c]*.txt": true, "new\nline.txt": true });
    calls();
    const ctx = makeCtx(vol, { runId: 10n });
    const before = ctx.now();
    const res = await outcomes(handler.confirm(vol.manifest, ctx, "content"));
    const bad = res.get("d/e/[c]*.txt") as any;
    expect(bad.ok).toBe(false);
    expect(bad.missing).toBeUndefined();
    expect(bad.reason).toContain("differs (sha256");
    for (const p of ["a.txt", "d/b c.txt", "new\nline.txt"]) {
      const o = res.get(p) as any;
      expect([p, o.ok, o.method, o.unchanged]).toEqual([p, true, "sha256", undefined]);
      expect(o.verifiedAt).toBeGreaterThanOrEqual(before);
    }
    // the local digests were asked for (computed from the indexed files), and the destination hashed
    expect(ctx.digestCalls.reduce((n, c) => n + c.count, 0)).toBe(vol.manifest.length);
    const c = calls();
    expect(c.every((x) => x.sub === "lsjson")).toBe(true);
    expect(c.some((x) => x.argv.includes("--hash") && x.argv.includes("sha256"))).toBe(true);
  });

  test("content: a local file changed since indexing gives no digest to compare with: not confirmed", async () => {
    const remote = tmp();
    const vol = makeVolume({ "a.txt": "alpha", "b.txt": "bravo" });
    const { handler } = open({ remote });
    await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    // the kernel's digest is of the indexed content; the local file no longer has it
    overwriteKeepingTimes(join(vol.root, "a.txt"), "ALPHA");
    const res = await outcomes(handler.confirm(vol.manifest, makeCtx(vol), "content"));
    expect(res.get("a.txt")).toMatchObject({ ok: false });
    expect(res.get("b.txt")).toMatchObject({ ok: true, method: "sha256" });
  });

  test("content: a large object is streamed back into BLAKE3 (method blake3); a flipped byte in it is caught", async () => {
    const remote = tmp();
    const big = new Uint8Array(STREAM_MIN);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) & 0xff;
    const vol = makeVolume({ "big.bin": big, "a.txt": "alpha" });
    const { handler, calls } = logged({ remote });
    await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    calls();
    const ctx = makeCtx(vol, { runId: 8n });
    const res = await outcomes(handler.confirm(vol.manifest, ctx, "content"));
    expect(res.get("big.bin")).toMatchObject({ ok: true, method: "blake3" });
    expect(res.get("a.txt")).toMatchObject({ ok: true, method: "sha256" });
    // no local sha256 of the large file, and no hashing listing asked for it
    expect(ctx.digestCalls.reduce((n, c) => n + c.count, 0)).toBe(1);
    const c = calls();
    expect(c.filter((x) => x.sub === "cat")).toHaveLength(1);
    for (const x of c.filter((x) => x.argv.includes("--hash"))) expect(x.argv.join("\n")).not.toContain("big.bin");

    flipByte(join(remote, "vol", "big.bin"), 123_456);
    const again = await outcomes(handler.confirm(vol.manifest, makeCtx(vol, { runId: 9n }), "content"));
    expect(again.get("big.bin")).toMatchObject({ ok: false });
    expect((again.get("big.bin") as any).reason).toContain("differs (BLAKE3");
    expect(again.get("a.txt")).toMatchObject({ ok: true, method: "sha256" });
  });

  test("the volume directory gone: every entry is missing (both depths); a name rclone cannot open is missing with the reason", async () => {
    const remote = tmp();
    const vol = makeVolume({ "a.txt": "alpha", "q‛x.txt": "quote" });
    const { handler } = open({ remote });
    await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    const res = await outcomes(handler.confirm(vol.manifest, makeCtx(vol), "presence"));
    expect(res.get("a.txt")).toMatchObject({ ok: true, method: "presence" });
    expect(res.get("q‛x.txt")).toMatchObject({ ok: false, missing: true });
    expect((res.get("q‛x.txt") as any).reason).toContain("U+201B");
    rmSync(join(remote, "vol"), { recursive: true });
    for (const depth of ["presence", "content"] as const) {
      const gone = await outcomes(handler.confirm(vol.manifest, makeCtx(vol), depth));
      for (const e of vol.manifest) expect([depth, e.path, gone.get(e.path)!.ok, (gone.get(e.path) as any).missing]).toEqual([depth, e.path, false, true]);
    }
  });

  test("an aborted context asks the destination nothing and confirms nothing", async () => {
    const remote = tmp();
    const vol = makeVolume({ "a.txt": "alpha" });
    const { handler, calls } = logged({ remote });
    await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    await handler.capabilities();
    calls();
    for (const depth of ["presence", "content"] as const) {
      const ctx = makeCtx(vol);
      ctx.abort.abort();
      const res = await outcomes(handler.confirm(vol.manifest, ctx, depth));
      expect(res.get("a.txt")).toMatchObject({ ok: false });
      expect((res.get("a.txt") as any).reason).toContain("aborted");
    }
    expect(calls()).toEqual([]);
  });

  test("one outcome per entry, in order; an empty batch asks nothing", async () => {
    const remote = tmp();
    const vol = makeVolume({ "z.txt": "z", "a.txt": "alpha", "m.txt": "mike" });
    const { handler, calls } = logged({ remote });
    await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    await handler.capabilities();
    calls();
    expect(await handler.confirm([], makeCtx(vol), "content")).toEqual([]);
    expect(calls()).toEqual([]);
    const list = (await handler.confirm(vol.manifest, makeCtx(vol), "content")) as FileOutcome[];
    expect(list.map((o) => o.path)).toEqual(vol.manifest.map((e) => e.path));
  });
});

describe("confirm over rclone serve webdav (no stored hash)", () => {
  const remote = () => `:webdav,url='http://127.0.0.1:${webdav.port}':confirm`;

  test('verify = "download": presence by listing, content by BLAKE3 of bytes read back; a flipped byte (size and mtime kept) fails content only', async () => {
    const { handler, calls } = logged({ remote: remote(), verify: "download" }, "dav");
    const vol = makeVolume({ "a.txt": "alpha", "d/b c.txt": "bravo", "big.bin": new Uint8Array(300_000).fill(9) });
    const ctx0 = makeCtx(vol, { volume: "dl" });
    await outcomes(handler.push(vol.manifest, ctx0));
    const dir = join(webdav.dir, "confirm", "dl");
    flipByte(join(dir, "a.txt"));
    // a push accepts it on its receipt (unchanged): confirm must not
    const pushed = await outcomes(handler.push(vol.manifest, makeCtx(vol, { volume: "dl", runId: 8n })));
    expect(pushed.get("a.txt")).toMatchObject({ ok: true, unchanged: true });
    calls();

    const pres = await outcomes(handler.confirm(vol.manifest, makeCtx(vol, { volume: "dl" }), "presence"));
    for (const e of vol.manifest) expect([e.path, pres.get(e.path)!.ok, (pres.get(e.path) as any).method]).toEqual([e.path, true, "presence"]);
    // listed, then the first byte of every object read in one batch (a listing may be a cache's)
    const pc = calls();
    expect(pc.map((c) => c.sub)).toEqual(["lsjson", "cat"]);
    expect(pc[1]!.argv).toEqual(expect.arrayContaining(["--files-from-raw", "--count", "1"]));

    const ctx = makeCtx(vol, { volume: "dl" });
    const res = await outcomes(handler.confirm(vol.manifest, ctx, "content"));
    expect(res.get("a.txt")).toMatchObject({ ok: false });
    expect((res.get("a.txt") as any).reason).toContain("differs (BLAKE3");
    expect(res.get("d/b c.txt")).toMatchObject({ ok: true, method: "blake3" });
    expect(res.get("big.bin")).toMatchObject({ ok: true, method: "blake3" });
    expect((res.get("big.bin") as any).unchanged).toBeUndefined();
    // small objects came back in one batch download, not a process per file
    const c = calls();
    expect(c.filter((x) => x.sub === "copy")).toHaveLength(1);
    expect(c.filter((x) => x.sub === "cat")).toHaveLength(0);

    // deleted through the server (its directory cache would hide a deletion made beside it)
    execFileSync(REAL_RCLONE, ["deletefile", `${remote()}/dl/d/b c.txt`], { env: { ...process.env, RCLONE_CONFIG: "/dev/null" }, stdio: "ignore" });
    expect(existsSync(join(dir, "d", "b c.txt"))).toBe(false);
    const gone = await outcomes(handler.confirm(vol.manifest, makeCtx(vol, { volume: "dl" }), "content"));
    expect(gone.get("d/b c.txt")).toEqual({ path: "d/b c.txt", ok: false, missing: true, reason: "missing at dav" });
    expect(gone.get("big.bin")).toMatchObject({ ok: true, method: "blake3" });
  });

  test("presence at the server's default --dir-cache-time: an object deleted behind the server is still listed, but it cannot be read: not confirmed", async () => {
    const { handler, calls } = logged({ remote: remote(), verify: "download" }, "dav");
    const vol = makeVolume({ "a.txt": "alpha", "d/b c.txt": "bravo", "d/gone.txt": "gone soon", "empty.txt": "" });
    await outcomes(handler.push(vol.manifest, makeCtx(vol, { volume: "stale" })));
    const ok = await outcomes(handler.confirm(vol.manifest, makeCtx(vol, { volume: "stale" }), "presence"));
    expect(okOf(ok)).toEqual({ "a.txt": true, "d/b c.txt": true, "d/gone.txt": true, "empty.txt": true });
    calls();

    // deleted beside the server: its directory cache still lists the object with its size
    rmSync(join(webdav.dir, "confirm", "stale", "d", "gone.txt"));
    const listed = execFileSync(REAL_RCLONE, ["lsjson", "-R", "--files-only", `${remote()}/stale`], { env: { ...process.env, RCLONE_CONFIG: "/dev/null" } }).toString();
    expect(JSON.parse(listed).map((j: any) => j.Path)).toContain("d/gone.txt");

    const ctx = makeCtx(vol, { volume: "stale" });
    const res = await outcomes(handler.confirm(vol.manifest, ctx, "presence"));
    const gone = res.get("d/gone.txt") as any;
    expect(gone.ok).toBe(false);
    expect(gone.reason).toContain("listed at dav but cannot be read");
    expect(okOf(res)).toEqual({ "a.txt": true, "d/b c.txt": true, "d/gone.txt": false, "empty.txt": true });
    // one run for the batch; the objects its error did not name are asked once more on their own
    expect(calls().map((x) => x.sub)).toEqual(["lsjson", "cat", "cat"]);

    // content reads everything back anyway: not confirmed either
    const cont = await outcomes(handler.confirm(vol.manifest, makeCtx(vol, { volume: "stale" }), "content"));
    expect(cont.get("d/gone.txt")).toMatchObject({ ok: false });
    expect(cont.get("a.txt")).toMatchObject({ ok: true, method: "blake3" });
  });

  test("presence over many objects: first bytes read in a few concurrent runs of at most 100; only the object deleted behind the server is not confirmed", async () => {
    const { handler, calls } = logged({ remote: remote(), verify: "download" }, "dav");
    const files: Record<string, string> = {};
    for (let i = 0; i < 250; i++) files[`d${i % 7}/f${i}.txt`] = `content ${i}`;
    const vol = makeVolume(files);
    await outcomes(handler.push(vol.manifest, makeCtx(vol, { volume: "many" })));
    rmSync(join(webdav.dir, "confirm", "many", "d3", "f171.txt"));
    calls();
    const res = await outcomes(handler.confirm(vol.manifest, makeCtx(vol, { volume: "many" }), "presence"));
    const bad = [...res.values()].filter((o) => !o.ok).map((o) => o.path);
    expect(bad).toEqual(["d3/f171.txt"]);
    for (const o of res.values()) if (o.ok) expect(o.method).toBe("presence");
    // 250 objects in runs of 100, 100 and 50; the run that met the deleted one asked its others again
    expect(calls().map((c) => c.sub)).toEqual(["lsjson", "cat", "cat", "cat", "cat"]);
  });

  test("presence: a cat run that fails naming no object proves nothing (asked once more, then not confirmed)", async () => {
    const { handler } = open({ remote: remote(), verify: "download" }, {}, "dav");
    const vol = makeVolume({ "a.txt": "alpha", "b.txt": "bravo" });
    await outcomes(handler.push(vol.manifest, makeCtx(vol, { volume: "failcat" })));
    const log = join(tmp(), "argv.log");
    const liar = open({ remote: remote(), verify: "download", binary: FAKE_RCLONE }, { HOARD_FAKE_RCLONE_MODE: "argvlog,failcat", HOARD_FAKE_RCLONE_LOG: log, HOARD_FAKE_RCLONE_REAL: REAL_RCLONE }, "dav");
    const res = await outcomes(liar.handler.confirm(vol.manifest, makeCtx(vol, { volume: "failcat" }), "presence"));
    for (const e of vol.manifest) {
      const o = res.get(e.path) as any;
      expect([e.path, o.ok]).toEqual([e.path, false]);
      expect(o.reason).toContain("could not prove it readable at dav");
    }
    expect(readFileSync(log, "utf8").match(/^---- cat$/gm)).toHaveLength(2);
  });

  test('verify = "hash" (size-only evidence): content is still proven by reading back, never by size', async () => {
    const { handler } = open({ remote: remote() }, {}, "dav");
    const vol = makeVolume({ "a.txt": "alpha", "b.txt": "bravo" });
    const res0 = await outcomes(handler.push(vol.manifest, makeCtx(vol, { volume: "sz" })));
    for (const o of res0.values()) expect(o).toMatchObject({ ok: true, method: "size" });
    flipByte(join(webdav.dir, "confirm", "sz", "b.txt"), 1);
    const res = await outcomes(handler.confirm(vol.manifest, makeCtx(vol, { volume: "sz" }), "content"));
    expect(res.get("a.txt")).toMatchObject({ ok: true, method: "blake3" });
    expect(res.get("b.txt")).toMatchObject({ ok: false });
    expect((res.get("b.txt") as any).reason).toContain("BLAKE3");
  });

  test("a large object over webdav is streamed back (rclone cat into BLAKE3), not downloaded to a file", async () => {
    const { handler, calls } = logged({ remote: remote(), verify: "download" }, "dav");
    const big = new Uint8Array(9 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 512) big[i] = (i / 512) & 0xff;
    const vol = makeVolume({ "big.bin": big });
    await outcomes(handler.push(vol.manifest, makeCtx(vol, { volume: "stream" })));
    calls();
    const res = await outcomes(handler.confirm(vol.manifest, makeCtx(vol, { volume: "stream" }), "content"));
    expect(res.get("big.bin")).toMatchObject({ ok: true, method: "blake3" });
    const c = calls();
    expect(c.map((x) => x.sub)).toEqual(["lsjson", "cat"]);
    flipByte(join(webdav.dir, "confirm", "stream", "big.bin"), 5_000_000);
    const bad = await outcomes(handler.confirm(vol.manifest, makeCtx(vol, { volume: "stream" }), "content"));
    expect(bad.get("big.bin")).toMatchObject({ ok: false });
    expect((bad.get("big.bin") as any).reason).toContain("differs (BLAKE3");
  });
});
