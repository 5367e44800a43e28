// The rclone plugin's shortcuts, each against the real rclone: receipts checked by a cheap listing
// before the copy (and when they must not be trusted), local digests computed alongside the copy,
// concurrent hashing listings, rclone's own post-copy checksum left out only where hoard checks
// content itself, receipts written back only when they changed.

import { afterAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { appendFileSync, chmodSync, existsSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { cleanup, entryFor, fakeApi, FAKE_RCLONE, makeCtx, makeVolume, obscure, open, outcomes, overwriteKeepingTimes, REAL_RCLONE, tmp } from "./harness.ts";
import { listHashed, type Target } from "../../plugins/rclone/listing.ts";
import { Rclone } from "../../plugins/rclone/run.ts";
import { Receipts } from "../../plugins/rclone/receipts.ts";
import { STREAM_MIN } from "../../plugins/rclone/index.ts";
import { standardName, standardPath } from "../../plugins/rclone/names.ts";

setDefaultTimeout(180_000);
afterAll(cleanup);

/** Open a handler whose every rclone call is logged (argv) and passed through to the real rclone. */
function logged(options: Record<string, unknown>, env: Record<string, string> = {}, name = "d") {
  const log = join(tmp(), "argv.log");
  const o = open({ ...options, binary: FAKE_RCLONE }, { ...env, HOARD_FAKE_RCLONE_MODE: "argvlog", HOARD_FAKE_RCLONE_LOG: log, HOARD_FAKE_RCLONE_REAL: REAL_RCLONE }, name);
  /** The invocations since the last call: [subcommand, argv]. */
  let seen = 0;
  const calls = (): { sub: string; argv: string[] }[] => {
    const text = existsSync(log) ? readFileSync(log, "utf8") : "";
    const out: { sub: string; argv: string[] }[] = [];
    for (const block of text.split(/^---- /m).slice(1)) {
      const [sub, ...argv] = block.replace(/\n$/, "").split("\n");
      out.push({ sub: sub!, argv });
    }
    const fresh = out.slice(seen);
    seen = out.length;
    return fresh;
  };
  return { ...o, calls };
}

const sha256 = (s: string | Uint8Array) => createHash("sha256").update(s).digest("hex");
const hashing = (c: { sub: string; argv: string[] }) => c.sub === "lsjson" && c.argv.includes("--hash");

describe("receipts checked before the copy", () => {
  test("a no-change re-push: one listing without hashes, no copy, no hashing, the receipts' time, receipts not rewritten", async () => {
    const remote = tmp();
    const vol = makeVolume({ "a.txt": "alpha", "d/b.txt": "bravo", "d/e/c.txt": "charlie" });
    const { handler, calls, stateDir } = logged({ remote });
    const first = await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    for (const o of first.values()) expect([o.ok, o.ok && o.method, o.ok && o.transferred, o.ok && o.unchanged]).toEqual([true, "sha256", true, undefined]);
    const subs1 = calls().map((c) => c.sub);
    expect(subs1).toContain("copy");

    const receiptFile = () => {
      const dir = join(stateDir, "receipts");
      const { readdirSync } = require("node:fs") as typeof import("node:fs");
      return join(dir, readdirSync(dir)[0]!);
    };
    const before = statSync(receiptFile(), { bigint: true }).mtimeNs;
    const ctx = makeCtx(vol, { runId: 8n });
    const second = await outcomes(handler.push(vol.manifest, ctx));
    for (const e of vol.manifest) {
      const o = second.get(e.path)!;
      const f = first.get(e.path)! as any;
      // accepted on the receipt: unchanged, its time, not now; nothing transferred
      expect([e.path, o.ok, (o as any).unchanged, (o as any).verifiedAt, !!(o as any).transferred]).toEqual([e.path, true, true, f.verifiedAt, false]);
    }
    const c2 = calls();
    expect(c2.map((c) => c.sub).filter((s) => s !== "version" && s !== "backend")).toEqual(["lsjson"]);
    expect(c2.some(hashing)).toBe(false);
    expect(ctx.digestCalls).toEqual([]);
    expect(statSync(receiptFile(), { bigint: true }).mtimeNs).toBe(before);
  });

  test("a receipt is not trusted when the object's modtime changed (same content): it is hashed again, now", async () => {
    const remote = tmp();
    const vol = makeVolume({ "a.txt": "alpha", "b.txt": "bravo" });
    const { handler, calls } = logged({ remote });
    const first = await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    const t1 = (first.get("a.txt") as any).verifiedAt as bigint;
    calls();
    utimesSync(join(remote, "vol", "a.txt"), new Date(2001, 0, 1), new Date(2001, 0, 1));
    const ctx = makeCtx(vol, { runId: 8n });
    const res = await outcomes(handler.push(vol.manifest, ctx));
    expect(res.get("b.txt")).toMatchObject({ ok: true, unchanged: true, verifiedAt: t1 });
    const a = res.get("a.txt") as any;
    expect(a).toMatchObject({ ok: true, method: "sha256" });
    expect(a.unchanged).toBeUndefined();
    expect(a.verifiedAt).toBeGreaterThan(t1);
    // only a.txt was handed to the copy and then hashed
    expect(calls().filter(hashing)).toHaveLength(1);
    expect(ctx.digestCalls.reduce((n, c) => n + c.count, 0)).toBe(1);
  });

  test("a receipt is not trusted when the object's size changed: it is copied again (old version kept) and hashed", async () => {
    const remote = tmp();
    const vol = makeVolume({ "a.txt": "alpha", "b.txt": "bravo" });
    const { handler } = open({ remote });
    const first = await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    const t1 = (first.get("a.txt") as any).verifiedAt as bigint;
    const p = join(remote, "vol", "a.txt");
    // same modtime, different size
    const st = statSync(p);
    appendFileSync(p, "!");
    utimesSync(p, st.atime, st.mtime);
    const res = await outcomes(handler.push(vol.manifest, makeCtx(vol, { runId: 9n })));
    expect(res.get("a.txt")).toMatchObject({ ok: true, method: "sha256", transferred: true });
    expect((res.get("a.txt") as any).verifiedAt).toBeGreaterThan(t1);
    expect((res.get("a.txt") as any).unchanged).toBeUndefined();
    expect(res.get("b.txt")).toMatchObject({ ok: true, unchanged: true, verifiedAt: t1 });
    expect(readFileSync(p, "utf8")).toBe("alpha");
    expect(readFileSync(join(remote, "vol", ".hoard", "history", "run-9", "a.txt"), "utf8")).toBe("alpha!");
  });

  test("same size and modtime, other content: push accepts the receipt (its old time), verify re-checks everything and catches it", async () => {
    const remote = tmp();
    const vol = makeVolume({ "a.txt": "alpha", "b.txt": "bravo" });
    const { handler, calls } = logged({ remote });
    const first = await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    const t1 = (first.get("a.txt") as any).verifiedAt as bigint;
    overwriteKeepingTimes(join(remote, "vol", "a.txt"), "ALPHA");
    const res = await outcomes(handler.push(vol.manifest, makeCtx(vol, { runId: 9n })));
    // a receipt can only speak for what size and modtime show: the outcome says so (unchanged,
    // at the receipt's old time: not a verification)
    expect(res.get("a.txt")).toMatchObject({ ok: true, unchanged: true, verifiedAt: t1 });
    calls();
    const ctxv = makeCtx(vol);
    const ver = await outcomes(handler.verify(vol.manifest, ctxv));
    expect(ver.get("a.txt")).toMatchObject({ ok: false });
    expect((ver.get("a.txt") as any).reason).toContain("differs");
    expect(ver.get("b.txt")).toMatchObject({ ok: true });
    expect((ver.get("b.txt") as any).unchanged).toBeUndefined();
    expect((ver.get("b.txt") as any).verifiedAt).toBeGreaterThan(t1);
    // verify hashed every file (no receipt accepted)
    expect(calls().some(hashing)).toBe(true);
    // the failed receipt is gone: the next push copies a.txt again
    const again = await outcomes(handler.push(vol.manifest, makeCtx(vol, { runId: 10n })));
    expect(again.get("a.txt")).toMatchObject({ ok: true, transferred: true });
    expect((again.get("a.txt") as any).unchanged).toBeUndefined();
    expect(readFileSync(join(remote, "vol", "a.txt"), "utf8")).toBe("alpha");
  });

  test("receipts kept but the destination emptied: nothing is accepted, everything is copied and hashed again", async () => {
    const remote = tmp();
    const vol = makeVolume({ "a.txt": "alpha", "d/b.txt": "bravo" });
    const { handler } = open({ remote });
    await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    rmSync(join(remote, "vol"), { recursive: true });
    const res = await outcomes(handler.push(vol.manifest, makeCtx(vol, { runId: 9n })));
    for (const o of res.values()) expect([o.ok, o.ok && o.transferred, o.ok && o.unchanged]).toEqual([true, true, undefined]);
  });

  test("an offloaded entry with a holding receipt is accepted without a digest; a lost one is missing", async () => {
    const remote = tmp();
    const vol = makeVolume({ "keep.txt": "keep", "off.txt": "off", "lost.txt": "lost" });
    const { handler } = open({ remote });
    const first = await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    const off = vol.manifest.map((e) => (e.path === "keep.txt" ? e : { ...e, status: "offloaded" as const }));
    rmSync(join(vol.root, "off.txt"));
    rmSync(join(vol.root, "lost.txt"));
    rmSync(join(remote, "vol", "lost.txt"));
    const ctx = makeCtx(vol, { runId: 9n });
    const res = await outcomes(handler.push(off, ctx));
    expect(res.get("off.txt")).toMatchObject({ ok: true, unchanged: true, verifiedAt: (first.get("off.txt") as any).verifiedAt });
    expect(res.get("keep.txt")).toMatchObject({ ok: true });
    expect(res.get("lost.txt")).toMatchObject({ ok: false, missing: true });
    expect(ctx.digestCalls.every((c) => c.count <= 1)).toBe(true);
  });

  test("a name rclone cannot open stays reported on every push (never asked for by name); the rest are accepted", async () => {
    const remote = tmp();
    const vol = makeVolume({ "q‛x.txt": "quote", "ok.txt": "fine" });
    const { handler } = open({ remote });
    for (const run of [7n, 8n]) {
      const res = await outcomes(handler.push(vol.manifest, makeCtx(vol, { runId: run })));
      expect(res.get("ok.txt")).toMatchObject({ ok: true });
      expect(res.get("q‛x.txt")).toMatchObject({ ok: false, missing: true });
      expect((res.get("q‛x.txt") as any).reason).toContain("U+201B");
    }
  });
});

describe("receipts and the kernel's receipt scope", () => {
  test("receipts stamped with another scope are ignored: every object is hashed again (now); the receipts then speak for the new scope", async () => {
    const remote = tmp();
    const vol = makeVolume({ "a.txt": "alpha", "d/b.txt": "bravo" });
    const { handler, calls, stateDir } = logged({ remote });
    const first = await outcomes(handler.push(vol.manifest, makeCtx(vol, { receiptScope: "db1/id1/epoch1/rewind0" })));
    calls();
    // same scope: accepted on the receipts, nothing hashed
    const same = await outcomes(handler.push(vol.manifest, makeCtx(vol, { runId: 8n, receiptScope: "db1/id1/epoch1/rewind0" })));
    for (const e of vol.manifest) expect([e.path, (same.get(e.path) as any).unchanged, (same.get(e.path) as any).verifiedAt]).toEqual([e.path, true, (first.get(e.path) as any).verifiedAt]);
    expect(calls().some(hashing)).toBe(false);
    // another scope (a reset, a new identity, an evidence rewind): what was checked before proves nothing now
    const ctx = makeCtx(vol, { runId: 9n, receiptScope: "db1/id1/epoch1/rewind1" });
    const after = await outcomes(handler.push(vol.manifest, ctx));
    for (const e of vol.manifest) {
      const o = after.get(e.path) as any;
      expect([e.path, o.ok, o.method, o.unchanged]).toEqual([e.path, true, "sha256", undefined]);
      expect(o.verifiedAt).toBeGreaterThan((first.get(e.path) as any).verifiedAt);
    }
    expect(calls().some(hashing)).toBe(true);
    expect(ctx.digestCalls.reduce((n, c) => n + c.count, 0)).toBe(vol.manifest.length);
    const stored = await Receipts.load(stateDir, remote, "vol");
    for (const e of vol.manifest) expect([e.path, stored.get(e.path)?.scope]).toEqual([e.path, "db1/id1/epoch1/rewind1"]);
    // the receipts now carry the new scope only: going back to the earlier one trusts none of them
    const back = await outcomes(handler.push(vol.manifest, makeCtx(vol, { runId: 10n, receiptScope: "db1/id1/epoch1/rewind0" })));
    for (const e of vol.manifest) expect([e.path, (back.get(e.path) as any).unchanged]).toEqual([e.path, undefined]);
    expect(calls().some(hashing)).toBe(true);
    // and the receipts now speak for the scope of the last check
    const again = await outcomes(handler.push(vol.manifest, makeCtx(vol, { runId: 11n, receiptScope: "db1/id1/epoch1/rewind0" })));
    for (const e of vol.manifest) expect([e.path, (again.get(e.path) as any).unchanged, (again.get(e.path) as any).verifiedAt]).toEqual([e.path, true, (back.get(e.path) as any).verifiedAt]);
    expect(calls().some(hashing)).toBe(false);
  });

  test("a warmed push under another scope accepts nothing either", async () => {
    const remote = tmp();
    const vol = makeVolume({ "a.txt": "alpha" });
    const { handler, calls } = logged({ remote });
    await outcomes(handler.push(vol.manifest, makeCtx(vol, { receiptScope: "s1" })));
    calls();
    handler.warm!("vol");
    const res = await outcomes(handler.push(vol.manifest, makeCtx(vol, { runId: 8n, receiptScope: "s2" })));
    expect(res.get("a.txt")).toMatchObject({ ok: true, method: "sha256" });
    expect((res.get("a.txt") as any).unchanged).toBeUndefined();
    expect(calls().some(hashing)).toBe(true);
  });

  test("without a receipt scope no receipt is accepted or written", async () => {
    const remote = tmp();
    const vol = makeVolume({ "a.txt": "alpha" });
    const { handler, calls, stateDir } = logged({ remote });
    await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    calls();
    for (const run of [8n, 9n]) {
      const res = await outcomes(handler.push(vol.manifest, makeCtx(vol, { runId: run, receiptScope: null })));
      expect(res.get("a.txt")).toMatchObject({ ok: true, method: "sha256" });
      expect((res.get("a.txt") as any).unchanged).toBeUndefined();
      expect(calls().some(hashing)).toBe(true);
    }
    // the scoped receipts were left alone (nothing read them as valid, nothing rewrote them)
    const r = await Receipts.load(stateDir, remote, "vol");
    expect(r.get("a.txt")?.scope).toBe("scope-1");
  });

  test("a receipt's time is capped at now (a clock set back never makes an unchanged outcome look fresh)", async () => {
    const remote = tmp();
    const vol = makeVolume({ "a.txt": "alpha" });
    const { handler, stateDir } = open({ remote });
    await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    const r = await Receipts.load(stateDir, remote, "vol");
    const rec = r.get("a.txt")!;
    const future = rec.at + 10n ** 18n;
    r.set("a.txt", { ...rec, at: future });
    await r.save(undefined);
    const ctx = makeCtx(vol, { runId: 8n });
    const before = ctx.now();
    const res = await outcomes(handler.push(vol.manifest, ctx));
    const o = res.get("a.txt") as any;
    expect(o).toMatchObject({ ok: true, unchanged: true });
    expect(o.verifiedAt).toBeGreaterThanOrEqual(before);
    expect(o.verifiedAt).toBeLessThanOrEqual(ctx.now());
  });
});

describe("warm(): the listing and receipts begin before the push", () => {
  test("a warmed no-change push uses the warm listing (one lsjson in all) and accepts the receipts", async () => {
    const remote = tmp();
    const vol = makeVolume({ "a.txt": "alpha", "d/b.txt": "bravo" });
    const { handler, calls } = logged({ remote });
    const first = await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    calls();
    handler.warm!("vol");
    const res = await outcomes(handler.push(vol.manifest, makeCtx(vol, { runId: 8n })));
    for (const e of vol.manifest) expect([e.path, (res.get(e.path) as any).unchanged, (res.get(e.path) as any).verifiedAt]).toEqual([e.path, true, (first.get(e.path) as any).verifiedAt]);
    const subs = calls().map((c) => c.sub).filter((s) => s !== "version" && s !== "backend");
    expect(subs).toEqual(["lsjson"]);
  });

  test("a warm listing of another volume is not used; one taken by a push is not used twice", async () => {
    const remote = tmp();
    const vol = makeVolume({ "a.txt": "alpha" });
    const { handler, calls } = logged({ remote });
    await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    calls();
    handler.warm!("other");
    handler.warm!("vol");
    await outcomes(handler.push(vol.manifest, makeCtx(vol, { runId: 8n })));
    await outcomes(handler.push(vol.manifest, makeCtx(vol, { runId: 9n })));
    const lists = calls().filter((c) => c.sub === "lsjson");
    // the two warm listings (vol, other: "other" has no receipts, so none is started for it) and the second push's own
    expect(lists.filter((c) => c.argv.some((a) => a.endsWith("/other"))).length).toBe(0);
    expect(lists.filter((c) => c.argv.some((a) => a.endsWith("/vol")))).toHaveLength(2);
  });

  test("a warm listing taken before the destination changed is still only used to check receipts: a changed object is copied and hashed", async () => {
    const remote = tmp();
    const vol = makeVolume({ "a.txt": "alpha", "b.txt": "bravo" });
    const { handler } = logged({ remote });
    await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    // the object is damaged (size changes) before the warm listing: the listing shows it
    writeFileSync(join(remote, "vol", "a.txt"), "alpha, damaged");
    handler.warm!("vol");
    const res = await outcomes(handler.push(vol.manifest, makeCtx(vol, { runId: 8n })));
    expect(res.get("a.txt")).toMatchObject({ ok: true, transferred: true });
    expect(readFileSync(join(remote, "vol", "a.txt"), "utf8")).toBe("alpha");
  });
});

describe("large objects on a local path: read back into BLAKE3 instead of hashed by rclone", () => {
  // one object exactly at the threshold, and small ones that keep the stored-hash plan
  const big = () => {
    const b = new Uint8Array(STREAM_MIN);
    for (let i = 0; i < b.length; i += 4096) b[i] = (i / 4096) & 0xff;
    return b;
  };
  const cats = (c: { sub: string }[]) => c.filter((x) => x.sub === "cat").length;

  test("a push: the large object verified by blake3 (no local sha256 of it), small ones by sha256; a re-push accepts both on receipts", async () => {
    const remote = tmp();
    const vol = makeVolume({ "big.bin": big(), "a.txt": "alpha", "d/b.txt": "bravo" });
    const { handler, calls } = logged({ remote });
    const ctx = makeCtx(vol);
    const res = await outcomes(handler.push(vol.manifest, ctx));
    expect(res.get("big.bin")).toMatchObject({ ok: true, method: "blake3", transferred: true });
    expect(res.get("a.txt")).toMatchObject({ ok: true, method: "sha256" });
    expect(res.get("d/b.txt")).toMatchObject({ ok: true, method: "sha256" });
    // the local sha256 was computed for the two small files only
    expect(ctx.digestCalls.reduce((n, c) => n + c.count, 0)).toBe(2);
    const c1 = calls();
    expect(cats(c1)).toBe(1);
    // the hashing listing never asked for the large object
    for (const c of c1.filter(hashing)) expect(c.argv.join("\n")).not.toContain("big.bin");
    const again = await outcomes(handler.push(vol.manifest, makeCtx(vol, { runId: 8n })));
    expect(again.get("big.bin")).toMatchObject({ ok: true, unchanged: true, method: "blake3", verifiedAt: (res.get("big.bin") as any).verifiedAt });
    expect(again.get("a.txt")).toMatchObject({ ok: true, unchanged: true, method: "sha256", verifiedAt: (res.get("a.txt") as any).verifiedAt });
    const c2 = calls();
    expect(cats(c2)).toBe(0);
    expect(c2.some(hashing)).toBe(false);
  });

  test("verify catches a silent corruption of the large object (size and modtime kept); the next push copies it again", async () => {
    const remote = tmp();
    const data = big();
    const vol = makeVolume({ "big.bin": data, "a.txt": "alpha" });
    const { handler } = open({ remote });
    await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    const bad = Uint8Array.from(data);
    bad[12345] = bad[12345]! ^ 1;
    overwriteKeepingTimes(join(remote, "vol", "big.bin"), bad);
    const ver = await outcomes(handler.verify(vol.manifest, makeCtx(vol)));
    expect(ver.get("big.bin")).toMatchObject({ ok: false });
    expect((ver.get("big.bin") as any).reason).toContain("differs (BLAKE3");
    expect(ver.get("a.txt")).toMatchObject({ ok: true, method: "sha256" });
    const rep = await outcomes(handler.push(vol.manifest, makeCtx(vol, { runId: 9n })));
    expect(rep.get("big.bin")).toMatchObject({ ok: true, method: "blake3", transferred: true });
    expect(Buffer.from(readFileSync(join(remote, "vol", "big.bin"))).equals(Buffer.from(data))).toBe(true);
  });

  test("hostile names are read back exactly (spaces, brackets, a glob star, a control character, non-ASCII)", async () => {
    const remote = tmp();
    const names = ["dir with space/[x] *?.bin", "ctl\u0001name ü.bin"];
    const data = big();
    const vol = makeVolume(Object.fromEntries(names.map((n) => [n, data])));
    const { handler } = open({ remote });
    const res = await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    for (const n of names) expect([n, res.get(n)]).toEqual([n, expect.objectContaining({ ok: true, method: "blake3" })]);
    const ver = await outcomes(handler.verify(vol.manifest, makeCtx(vol)));
    for (const n of names) expect([n, ver.get(n)!.ok]).toEqual([n, true]);
  });

  test("an rclone whose cat lies (right size, other bytes, exit 0): nothing is verified for that object", async () => {
    const remote = tmp();
    const vol = makeVolume({ "big.bin": big(), "a.txt": "alpha" });
    await outcomes(open({ remote }).handler.push(vol.manifest, makeCtx(vol)));
    const { handler } = open({ remote, binary: FAKE_RCLONE }, { HOARD_FAKE_RCLONE_MODE: "flipcat", HOARD_FAKE_RCLONE_REAL: REAL_RCLONE });
    const ver = await outcomes(handler.verify(vol.manifest, makeCtx(vol)));
    expect(ver.get("big.bin")).toMatchObject({ ok: false });
    expect((ver.get("big.bin") as any).reason).toContain("differs");
    expect(ver.get("a.txt")).toMatchObject({ ok: true });
  });

  test("a large object missing at the destination is missing (never read back), and a cat that fails is not verified", async () => {
    const remote = tmp();
    const vol = makeVolume({ "big.bin": big(), "a.txt": "alpha" });
    const { handler } = open({ remote });
    await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    rmSync(join(remote, "vol", "big.bin"));
    const ver = await outcomes(handler.verify(vol.manifest, makeCtx(vol)));
    expect(ver.get("big.bin")).toMatchObject({ ok: false, missing: true });
    // an rclone whose cat fails part way (exit 1): not verified, with rclone's reason
    await outcomes(handler.push(vol.manifest, makeCtx(vol, { runId: 9n })));
    const broken = open({ remote, binary: FAKE_RCLONE }, { HOARD_FAKE_RCLONE_MODE: "failcat", HOARD_FAKE_RCLONE_REAL: REAL_RCLONE });
    const v2 = await outcomes(broken.handler.verify(vol.manifest, makeCtx(vol)));
    expect(v2.get("big.bin")).toMatchObject({ ok: false });
    expect((v2.get("big.bin") as any).reason).toContain("read error");
    expect(v2.get("a.txt")).toMatchObject({ ok: true });
  });
});

describe("the copy", () => {
  test("first push: local digests asked for once (while copying); rclone's own checksum left to hoard's check", async () => {
    const remote = tmp();
    const vol = makeVolume({ "a.txt": "alpha", "b.txt": "bravo", "c/d.txt": "delta" });
    const { handler, calls } = logged({ remote });
    const ctx = makeCtx(vol);
    const res = await outcomes(handler.push(vol.manifest, ctx));
    for (const o of res.values()) expect(o).toMatchObject({ ok: true, method: "sha256" });
    expect(ctx.digestCalls).toEqual([{ algo: "sha256", count: 3 }]);
    const copies = calls().filter((c) => c.sub === "copy");
    expect(copies).toHaveLength(1);
    expect(copies[0]!.argv).toContain("--ignore-checksum");
  });

  test("a size-only destination keeps rclone's post-copy checksum (the only content check there is)", async () => {
    const base = tmp();
    const env = { RCLONE_CONFIG_VAULT_TYPE: "crypt", RCLONE_CONFIG_VAULT_REMOTE: base, RCLONE_CONFIG_VAULT_PASSWORD: obscure("pw-" + Math.random()) };
    const { handler, calls } = logged({ remote: "vault:" }, env, "vault");
    const vol = makeVolume({ "a.txt": "alpha" });
    const res = await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    expect(res.get("a.txt")).toMatchObject({ ok: true, method: "size" });
    const copies = calls().filter((c) => c.sub === "copy");
    expect(copies).toHaveLength(1);
    expect(copies[0]!.argv).not.toContain("--ignore-checksum");
  });

  test("a local file changed after indexing, copied while its digest was computed: not verified", async () => {
    const remote = tmp();
    const vol = makeVolume({ "a.txt": "original", "b.txt": "bravo" });
    writeFileSync(join(vol.root, "a.txt"), "changed!");
    const { handler } = open({ remote });
    const res = await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    expect(res.get("a.txt")!.ok).toBe(false);
    expect(res.get("b.txt")).toMatchObject({ ok: true });
  });
});

describe("concurrent hashing listings", () => {
  function target(root: string, binary: string, hashJobs: number, env: Record<string, string> = {}): Target {
    const rc = new Rclone(fakeApi(), { remote: root, verify: "hash", binary }, { RCLONE_CONFIG: join(tmp(), "none.conf"), ...env });
    return { rc, dest: "d", volumeDir: root, hashJobs, stateDir: tmp() };
  }

  test("entries are split over the runs, every object hashed once, merged; the time is the earliest start", async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 9; i++) files[`d${i % 3}/f${i}.bin`] = "x".repeat(1000 * (i + 1));
    files["new\nline"] = "nl";
    const vol = makeVolume(files);
    const ctx = makeCtx(vol);
    const before = ctx.now();
    const log = join(tmp(), "argv.log");
    const env = { HOARD_FAKE_RCLONE_MODE: "argvlog", HOARD_FAKE_RCLONE_LOG: log, HOARD_FAKE_RCLONE_REAL: REAL_RCLONE };
    const l = await listHashed(target(vol.root, FAKE_RCLONE, 3, env), ctx, "sha256", vol.manifest);
    expect(l.ok).toBe(true);
    if (!l.ok) return;
    expect(l.at).toBeGreaterThanOrEqual(before);
    expect(l.at).toBeLessThanOrEqual(ctx.now());
    expect(l.files.size).toBe(vol.manifest.length);
    for (const e of vol.manifest) {
      const f = l.files.get(standardPath(e.path))!;
      expect([e.path, f.size, f.hash, typeof f.modtime]).toEqual([e.path, e.size, sha256(files[e.path]!), "string"]);
    }
    expect(readFileSync(log, "utf8").match(/^---- lsjson$/gm)).toHaveLength(3);
  });

  test("one failing run fails the whole listing (its exit code is checked; nothing from it is used)", async () => {
    const vol = makeVolume({ "good.txt": "g".repeat(5000), "bad.txt": "b", "other.txt": "o".repeat(3000) });
    // an rclone that fails whenever it is asked for bad.txt (and prints a plausible listing anyway)
    const fake = join(tmp(), "rclone");
    writeFileSync(
      fake,
      `#!/bin/sh\ninput=$(cat)\ncase "$input" in *bad.txt*) echo '[{"Path":"bad.txt","Size":1,"Hashes":{"sha256":"00"}}]'; echo 'Failed to lsjson: boom' >&2; exit 1;; esac\nprintf '%s\\n' "$input" | exec ${REAL_RCLONE} "$@"\n`,
    );
    chmodSync(fake, 0o755);
    const ctx = makeCtx(vol);
    const l = await listHashed(target(vol.root, fake, 2), ctx, "sha256", vol.manifest);
    expect(l.ok).toBe(false);
    if (!l.ok) {
      expect(l.missing).toBe(false);
      expect(l.reason).toContain("boom");
    }
    // the same through verify after an honest push: nothing is claimed, not even for the
    // files of the run that succeeded
    const remote = tmp();
    await outcomes(open({ remote }).handler.push(vol.manifest, makeCtx(vol)));
    const { handler } = open({ remote, binary: fake });
    const ver = await outcomes(handler.verify(vol.manifest, makeCtx(vol)));
    for (const e of vol.manifest) expect([e.path, ver.get(e.path)!.ok]).toEqual([e.path, false]);
    expect((ver.get("good.txt") as any).reason).toContain("boom");
  });
});

describe("receipts file", () => {
  test("written back only when something changed; an unreadable line is dropped and the file rewritten", async () => {
    const dir = tmp();
    const r = await Receipts.load(dir, "remote:", "vol");
    r.set("a", { size: 1, modtime: "t1", blake3: "b".repeat(64), method: "sha256", at: 5n, scope: "s1" });
    r.set("b", { size: 2, modtime: "t2", blake3: "c".repeat(64), method: "sha256", at: 6n, scope: "s1" });
    await r.save(new Set(["a", "b"]));
    const { readdirSync } = require("node:fs") as typeof import("node:fs");
    const file = join(dir, "receipts", readdirSync(join(dir, "receipts"))[0]!);
    const lines = readFileSync(file, "utf8").trim().split("\n");
    // the same receipts in another order: a save without changes must leave this text alone
    writeFileSync(file, [...lines].reverse().join("\n") + "\n");
    const r2 = await Receipts.load(dir, "remote:", "vol");
    expect(r2.get("a")).toEqual({ size: 1, modtime: "t1", blake3: "b".repeat(64), method: "sha256", at: 5n, scope: "s1" });
    r2.set("a", { size: 1, modtime: "t1", blake3: "b".repeat(64), method: "sha256", at: 5n, scope: "s1" });
    await r2.save(new Set(["a", "b"]));
    expect(readFileSync(file, "utf8")).toBe([...lines].reverse().join("\n") + "\n");
    // a path that left the manifest is dropped
    const r3 = await Receipts.load(dir, "remote:", "vol");
    await r3.save(new Set(["a"]));
    expect(readFileSync(file, "utf8")).toBe(lines[0] + "\n");
    // a torn line: the object is checked again, and the file is cleaned up
    appendFileSync(file, '{"p":"c","s":3,');
    const r4 = await Receipts.load(dir, "remote:", "vol");
    expect(r4.get("c")).toBeUndefined();
    expect(r4.get("a")).toBeDefined();
    await r4.save(new Set(["a", "c"]));
    expect(readFileSync(file, "utf8")).toBe(lines[0] + "\n");
  });

  test("keepScope discards every receipt of another scope (and the file forgets them); an unscoped (older) line is dropped", async () => {
    const dir = tmp();
    const r = await Receipts.load(dir, "remote:", "vol");
    r.set("a", { size: 1, modtime: "t1", blake3: "b".repeat(64), method: "sha256", at: 5n, scope: "old" });
    r.set("b", { size: 2, modtime: "t2", blake3: "c".repeat(64), method: "sha256", at: 6n, scope: "new" });
    await r.save(undefined);
    const { readdirSync } = require("node:fs") as typeof import("node:fs");
    const file = join(dir, "receipts", readdirSync(join(dir, "receipts"))[0]!);
    // a receipt written before scopes existed (stamped with an epoch only)
    appendFileSync(file, JSON.stringify({ p: "c", s: 3, t: "t3", b: "d".repeat(64), h: "sha256", a: "7", e: "1", m: "v1" }) + "\n");
    const r2 = await Receipts.load(dir, "remote:", "vol");
    expect(r2.get("c")).toBeUndefined();
    r2.keepScope("new");
    expect([r2.get("a"), r2.get("b")?.scope, r2.size]).toEqual([undefined, "new", 1]);
    await r2.save(undefined);
    const r3 = await Receipts.load(dir, "remote:", "vol");
    expect([r3.get("a"), r3.get("b")?.scope, r3.get("c"), r3.size]).toEqual([undefined, "new", undefined, 1]);
    expect(readFileSync(file, "utf8").trim().split("\n")).toHaveLength(1);
  });
});

describe("standard names", () => {
  test("the fast path agrees with the per-segment encoding", () => {
    const names = ["plain", "a/b/c.txt", "with space", "ünï/cødé", ".", "..", "a/./b", "a/../b", "x/.", "．", "a/．．/b", "q‛x", "sym␊lit", "full／slash", "ctl\x01", "del\x7f", "new\nline", "a.b", "..a", "a..", ".hidden/.x"];
    for (const n of names) expect([n, standardPath(n)]).toEqual([n, n.split("/").map(standardName).join("/")]);
  });
});
