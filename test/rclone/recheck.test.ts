// Receipts against the kernel's demands, with the real rclone: an accepted receipt is `unchanged`
// (never a verification), and an entry marked `recheck` is always checked by content, so damage
// that keeps size and modtime is found (and repaired) when the kernel asks for it.

import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { ManifestEntry } from "../../src/kernel/plugin.ts";
import { Receipts } from "../../plugins/rclone/receipts.ts";
import { Rclone } from "../../plugins/rclone/run.ts";
import { verifyEntries } from "../../plugins/rclone/verify.ts";
import { cleanup, fakeApi, FAKE_RCLONE, logged, makeCtx, makeVolume, open, outcomes, overwriteKeepingTimes, REAL_RCLONE, serve, tmp, type Server } from "./harness.ts";

setDefaultTimeout(180_000);

let webdav: Server;
beforeAll(async () => {
  webdav = await serve("webdav");
});
afterAll(() => {
  webdav?.stop();
  cleanup();
});


const hashing = (c: { sub: string; argv: string[] }) => c.sub === "lsjson" && c.argv.includes("--hash");
const sha256 = (s: string | Uint8Array) => createHash("sha256").update(s).digest("hex");
const marked = (m: ManifestEntry[], ...paths: string[]) => m.map((e) => (paths.includes(e.path) ? { ...e, recheck: true } : e));
const digestCount = (ctx: { digestCalls: { count: number }[] }) => ctx.digestCalls.reduce((n, c) => n + c.count, 0);

describe("push with receipts on a local-path remote (stored sha256)", () => {
  test("untouched objects are unchanged (receipt's time); a recheck entry is hashed again now, never unchanged, and its receipt refreshed", async () => {
    const remote = tmp();
    const vol = makeVolume({ "a.txt": "alpha", "b.txt": "bravo", "d/c.txt": "charlie" });
    const { handler, calls } = logged({ remote });
    const first = await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    const t1 = (first.get("a.txt") as any).verifiedAt as bigint;
    calls();

    const ctx = makeCtx(vol, { runId: 8n });
    const res = await outcomes(handler.push(marked(vol.manifest, "b.txt"), ctx));
    for (const p of ["a.txt", "d/c.txt"]) expect(res.get(p)).toEqual({ path: p, ok: true, unchanged: true, method: "sha256", verifiedAt: (first.get(p) as any).verifiedAt });
    const b = res.get("b.txt") as any;
    expect([b.ok, b.method, b.unchanged]).toEqual([true, "sha256", undefined]);
    expect(b.verifiedAt).toBeGreaterThan(t1);
    // only b.txt's local digest was asked for, and the destination hashed it (only it)
    expect(digestCount(ctx)).toBe(1);
    const hashed = calls().filter(hashing);
    expect(hashed).toHaveLength(1);

    // its receipt now carries the new check: a later push without recheck accepts it at that time
    const later = await outcomes(handler.push(vol.manifest, makeCtx(vol, { runId: 9n })));
    expect(later.get("b.txt")).toMatchObject({ ok: true, unchanged: true, verifiedAt: b.verifiedAt });
    expect(later.get("a.txt")).toMatchObject({ ok: true, unchanged: true, verifiedAt: t1 });
  });

  test("every entry marked recheck: nothing is unchanged, everything is hashed", async () => {
    const remote = tmp();
    const vol = makeVolume({ "a.txt": "alpha", "b.txt": "bravo" });
    const { handler, calls } = logged({ remote });
    await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    calls();
    const ctx = makeCtx(vol, { runId: 8n });
    const res = await outcomes(handler.push(marked(vol.manifest, "a.txt", "b.txt"), ctx));
    for (const o of res.values()) expect([o.path, o.ok, o.ok && o.unchanged]).toEqual([o.path, true, undefined]);
    expect(digestCount(ctx)).toBe(2);
    expect(calls().some(hashing)).toBe(true);
  });

  test("an object corrupted in place keeping size and mtime: a receipt hides it, a recheck entry finds it and the push repairs it", async () => {
    const remote = tmp();
    const vol = makeVolume({ "a.txt": "alpha", "c.txt": "charlie" });
    const { handler, logs } = open({ remote });
    const first = await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    const p = join(remote, "vol", "c.txt");
    overwriteKeepingTimes(p, "CHARLIE");
    // without recheck: accepted on the receipt, and it says so (unchanged: not a verification)
    const hidden = await outcomes(handler.push(vol.manifest, makeCtx(vol, { runId: 8n })));
    expect(hidden.get("c.txt")).toEqual({ path: "c.txt", ok: true, unchanged: true, method: "sha256", verifiedAt: (first.get("c.txt") as any).verifiedAt });
    expect(readFileSync(p, "utf8")).toBe("CHARLIE");

    // with recheck: hashed, found to differ, copied again (the damaged one kept in the run's history)
    const ctx = makeCtx(vol, { runId: 9n });
    const res = await outcomes(handler.push(marked(vol.manifest, "c.txt"), ctx));
    const c = res.get("c.txt") as any;
    expect([c.ok, c.method, c.transferred, c.unchanged]).toEqual([true, "sha256", true, undefined]);
    expect(c.verifiedAt).toBeGreaterThan((first.get("c.txt") as any).verifiedAt);
    expect(res.get("a.txt")).toMatchObject({ ok: true, unchanged: true });
    expect(readFileSync(p, "utf8")).toBe("charlie");
    expect(readFileSync(join(remote, "vol", ".hoard", "history", "run-9", "c.txt"), "utf8")).toBe("CHARLIE");
    expect(ctx.logs.join("\n") + logs.join("\n")).toContain("differ at the destination");
  });

  test("an offloaded recheck entry corrupted in place (nothing local to repair from) is not ok", async () => {
    const remote = tmp();
    const vol = makeVolume({ "keep.txt": "keep", "off.txt": "offloaded bytes" });
    const { handler } = open({ remote });
    await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    overwriteKeepingTimes(join(remote, "vol", "off.txt"), "OFFLOADED BYTES");
    const off = vol.manifest.find((e) => e.path === "off.txt")!;
    // the kernel's cached sha256 of the indexed content (the local copy is gone)
    const cache = new Map([[`sha256:${off.contentId}`, sha256("offloaded bytes")]]);
    const m = vol.manifest.map((e) => (e.path === "off.txt" ? { ...e, status: "offloaded" as const } : e));
    const plain = await outcomes(handler.push(m, makeCtx(vol, { runId: 8n, cache })));
    expect(plain.get("off.txt")).toMatchObject({ ok: true, unchanged: true });
    const res = await outcomes(handler.push(marked(m, "off.txt"), makeCtx(vol, { runId: 9n, cache })));
    expect(res.get("off.txt")).toMatchObject({ ok: false });
    expect((res.get("off.txt") as any).reason).toContain("differs (sha256");
    expect(res.get("keep.txt")).toMatchObject({ ok: true, unchanged: true });
    // its receipt is gone: the next push (no recheck) does not accept it either
    const next = await outcomes(handler.push(m, makeCtx(vol, { runId: 10n, cache })));
    expect(next.get("off.txt")).toMatchObject({ ok: false });
  });

  test("the in-listing receipt check (verifyEntries with reuse) never accepts a recheck entry either", async () => {
    const remote = tmp();
    const vol = makeVolume({ "a.txt": "alpha", "b.txt": "bravo" });
    const { handler, stateDir } = open({ remote });
    const first = await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    overwriteKeepingTimes(join(remote, "vol", "b.txt"), "BRAVO");
    const rc = new Rclone(fakeApi(), { remote, verify: "hash" }, { RCLONE_CONFIG: join(tmp(), "none.conf") });
    const t = { rc, dest: "d", volumeDir: join(remote, "vol"), stateDir };
    const plan = { mode: "hash" as const, method: "sha256" as const, hash: "sha256" as const };
    const ctx = makeCtx(vol, { runId: 8n });
    const receipts = await Receipts.load(stateDir, remote, "vol");
    receipts.keepScope(ctx.receiptScope);
    expect(receipts.size).toBe(2);
    const v = await verifyEntries(t, plan, marked(vol.manifest, "b.txt"), ctx, { receipts, reuse: true });
    expect(v.outcomes.get("a.txt")).toEqual({ path: "a.txt", ok: true, unchanged: true, method: "sha256", verifiedAt: (first.get("a.txt") as any).verifiedAt });
    expect(v.outcomes.get("b.txt")).toMatchObject({ ok: false });
    expect([...v.contentMismatch]).toEqual(["b.txt"]);
    // under another scope the same call accepts nothing
    const other = makeCtx(vol, { runId: 9n, receiptScope: "elsewhere" });
    const v2 = await verifyEntries(t, plan, vol.manifest, other, { receipts, reuse: true });
    expect(v2.outcomes.get("a.txt")).toMatchObject({ ok: true, method: "sha256" });
    expect((v2.outcomes.get("a.txt") as any).unchanged).toBeUndefined();
  });
});

describe('push with receipts over rclone serve webdav (verify = "download")', () => {
  test("untouched objects are unchanged and not read back; a recheck entry is read back, its in-place corruption found and repaired", async () => {
    const remote = `:webdav,url='http://127.0.0.1:${webdav.port}':recheck`;
    const { handler } = open({ remote, verify: "download" }, {}, "dav");
    const vol = makeVolume({ "a.txt": "alpha", "b.txt": "bravo", "c.txt": "charlie" });
    const first = await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    for (const o of first.values()) expect([o.path, o.ok, o.ok && o.method]).toEqual([o.path, true, "blake3"]);
    const p = join(webdav.dir, "recheck", "vol", "c.txt");
    overwriteKeepingTimes(p, "CHARLIE");

    const hidden = makeCtx(vol, { runId: 8n });
    const h = await outcomes(handler.push(vol.manifest, hidden));
    for (const o of h.values()) expect([o.path, o.ok, o.ok && o.unchanged]).toEqual([o.path, true, true]);
    expect(hidden.progressLog.some((x) => x.phase === "download")).toBe(false);

    const ctx = makeCtx(vol, { runId: 9n });
    const res = await outcomes(handler.push(marked(vol.manifest, "c.txt"), ctx));
    expect(res.get("a.txt")).toMatchObject({ ok: true, unchanged: true, verifiedAt: (first.get("a.txt") as any).verifiedAt });
    expect(res.get("b.txt")).toMatchObject({ ok: true, unchanged: true });
    const c = res.get("c.txt") as any;
    expect([c.ok, c.method, c.transferred, c.unchanged]).toEqual([true, "blake3", true, undefined]);
    expect(readFileSync(p, "utf8")).toBe("charlie");
    // only c.txt was read back (once found differing, once after the repair)
    const dl = ctx.progressLog.filter((x) => x.phase === "download");
    expect(dl.length).toBeGreaterThan(0);
    expect(dl.every((x) => x.total === 1 && x.current === "c.txt")).toBe(true);
  });

  test("an object deleted behind a caching server (still listed, unreadable, a move aside through the server would misplace the next write): a recheck entry is copied again in place and proven", async () => {
    const remote = `:webdav,url='http://127.0.0.1:${webdav.port}':stale`;
    const { handler, calls } = logged({ remote, verify: "download" }, "dav");
    const vol = makeVolume({ "a.txt": "alpha", "d/gone.txt": "gone behind the server" });
    await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    const p = join(webdav.dir, "stale", "vol", "d", "gone.txt");
    rmSync(p);
    const pres = await outcomes(handler.confirm(vol.manifest, makeCtx(vol, { runId: 8n }), "presence"));
    expect(pres.get("d/gone.txt")).toMatchObject({ ok: false });
    calls();

    const res = await outcomes(handler.push(marked(vol.manifest, "d/gone.txt"), makeCtx(vol, { runId: 9n })));
    expect(res.get("a.txt")).toMatchObject({ ok: true, unchanged: true });
    const g = res.get("d/gone.txt") as any;
    expect([g.ok, g.method, g.transferred]).toEqual([true, "blake3", true]);
    expect(readFileSync(p, "utf8")).toBe("gone behind the server");
    // the first copy found it up to date (listed); the repair copied it in place (no --backup-dir:
    // nothing readable to keep, and a move aside through the server would misplace the next write)
    const copies = calls().filter((c) => c.sub === "copy" && !c.argv.some((a) => a.includes("download-")));
    expect(copies.map((c) => [c.argv.includes("--ignore-times"), c.argv.includes("--backup-dir")])).toEqual([
      [false, true],
      [true, false],
    ]);
    expect(existsSync(join(webdav.dir, "stale", "vol", ".hoard", "history", "run-9", "d", "gone.txt"))).toBe(false);
    const again = await outcomes(handler.confirm(vol.manifest, makeCtx(vol, { runId: 10n }), "presence"));
    expect(again.get("d/gone.txt")).toMatchObject({ ok: true, method: "presence" });
  });
});
