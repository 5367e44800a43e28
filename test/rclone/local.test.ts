// The rclone plugin against a local-path remote with the real rclone: preflight, identity, push and
// verify with hostile names, damage at the destination, offloaded entries, fetch, a lying rclone.

import { afterAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { cleanup, FAKE_RCLONE, REAL_RCLONE, entryFor, makeCtx, makeVolume, open, outcomes, overwriteKeepingTimes, tmp } from "./harness.ts";
import { HoardError } from "../../src/kernel/errors.ts";
import { STREAM_MIN } from "../../plugins/rclone/index.ts";

// rclone starts in ~0.2 s and the machine may be busy: give each test room
setDefaultTimeout(180_000);
afterAll(cleanup);

const HOSTILE: Record<string, string> = {
  "plain.txt": "plain",
  "with space.txt": "spaces",
  " leading space": "lead",
  "trailing space ": "trail",
  "-leading-dash": "dash",
  "--double-dash": "ddash",
  "#hash-comment": "hash",
  ";semicolon": "semi",
  'quote"double': "dq",
  "quote'single": "sq",
  "[brackets]*?.txt": "glob",
  "{a,b}": "braces",
  "back\\slash": "bs",
  "ünïcødé €": "uni",
  "new\nline": "nl",
  "car\rriage": "cr",
  "tab\there": "tab",
  "sym␊lit": "sym",
  "full／slash": "fs",
  "dir with space/**/inner ['x'].txt": "nested",
  "deep/a/b/c/d.bin": "deep",
  "empty.txt": "",
};

describe("local path remote", () => {
  test("capabilities choose sha256 and report facts", async () => {
    const { handler } = open({ remote: tmp() });
    const caps = await handler.capabilities();
    // sha256 from rclone; objects from STREAM_MIN bytes on are read back into BLAKE3
    expect(caps.methods).toEqual(["sha256", "blake3"]);
    expect(caps.warnings).toEqual([]);
    expect(caps.facts).toMatchObject({ chosen: "sha256", read_back_from_bytes: STREAM_MIN });
    expect(String(caps.facts!.rclone_version)).toMatch(/^\d+\.\d+\.\d+/);
    expect(caps.facts!.hashes).toContain("sha256");
  });

  test("identity: a root not there yet is missing (not uninitialised), init creates it; identify, refuse a second init, reject a foreign marker", async () => {
    const root = join(tmp(), "not", "yet");
    const { handler } = open({ remote: root });
    const missing = await handler.identify().catch((e) => e);
    expect(missing).toBeInstanceOf(HoardError);
    expect([missing.kind, missing.code]).toEqual(["failure", "dest_missing"]);
    expect(existsSync(root)).toBe(false);
    const id = await handler.init();
    expect(id.id).toMatch(/^[0-9a-f-]{36}$/);
    const marker = JSON.parse(readFileSync(join(root, ".hoard-destination"), "utf8"));
    expect(marker).toMatchObject({ id: id.id, type: "rclone" });
    expect(typeof marker.created_at).toBe("string");
    expect((await handler.identify()) as any).toMatchObject({ id: id.id });
    const again = await handler.init().catch((e) => e);
    expect(again).toBeInstanceOf(HoardError);
    expect(again.kind).toBe("refused");
    expect(JSON.parse(readFileSync(join(root, ".hoard-destination"), "utf8")).id).toBe(id.id);

    writeFileSync(join(root, ".hoard-destination"), "not json");
    const bad = await handler.identify().catch((e) => e);
    expect(bad).toBeInstanceOf(HoardError);
    expect(bad.code).toBe("dest_marker_invalid");
  });

  test("identity: a root that exists without its marker is uninitialised (wiped); a root moved away (an unmounted disk) is unreachable, never uninitialised", async () => {
    const root = join(tmp(), "mnt", "disk");
    mkdirSync(root, { recursive: true });
    const { handler } = open({ remote: root });
    expect(await handler.identify()).toBe("uninitialised");
    const id = await handler.init();
    // unmounted: the mount point's directory is gone
    renameSync(root, `${root}.away`);
    const err = await handler.identify().catch((e) => e);
    expect(err).toBeInstanceOf(HoardError);
    expect([err.kind, err.code]).toEqual(["failure", "dest_missing"]);
    expect(err.message).toContain(`${root} does not exist`);
    expect(err.message).toContain("is it mounted?");
    expect(err.hint).not.toMatch(/^if this is expected/);
    expect(existsSync(root)).toBe(false); // identify wrote nothing
    renameSync(`${root}.away`, root);
    expect(((await handler.identify()) as any).id).toBe(id.id);
    // wiped: the directory is there, its marker is not
    rmSync(join(root, ".hoard-destination"));
    expect(await handler.identify()).toBe("uninitialised");
  });

  test("push copies exactly the present manifest files (hostile names), verifies by sha256, re-push transfers nothing", async () => {
    const remote = tmp();
    const vol = makeVolume(HOSTILE);
    // a file that appeared after indexing is not in the manifest and must not be copied
    writeFileSync(join(vol.root, "added-later.txt"), "late");
    mkdirSync(join(vol.root, ".hoard"), { recursive: true });
    writeFileSync(join(vol.root, ".hoard", "state"), "reserved");
    const { handler } = open({ remote });
    const ctx = makeCtx(vol);
    const res = await outcomes(handler.push(vol.manifest, ctx));
    expect(res.size).toBe(vol.manifest.length);
    for (const e of vol.manifest) {
      const o = res.get(e.path)!;
      expect([e.path, o.ok, o.ok && o.method, o.ok && o.transferred]).toEqual([e.path, true, "sha256", true]);
      expect(readFileSync(join(remote, "vol", ...e.path.split("/")), "utf8")).toBe(HOSTILE[e.path]!);
    }
    expect(existsSync(join(remote, "vol", "added-later.txt"))).toBe(false);
    expect(existsSync(join(remote, "vol", ".hoard-volume"))).toBe(false);
    expect(existsSync(join(remote, "vol", ".hoard", "state"))).toBe(false);
    expect(ctx.progressLog.some((p) => p.phase === "push")).toBe(true);
    expect(ctx.warnings).toEqual([]);
    expect(ctx.digestCalls.every((c) => c.algo === "sha256")).toBe(true);

    const ctx2 = makeCtx(vol, { runId: 8n });
    const res2 = await outcomes(handler.push(vol.manifest, ctx2));
    for (const e of vol.manifest) {
      const o = res2.get(e.path)!;
      expect([e.path, o.ok, o.ok && !!o.transferred]).toEqual([e.path, true, false]);
    }
  });

  test("verify catches deleted, truncated and silently corrupted files; push repairs them and keeps the old versions", async () => {
    const remote = tmp();
    const vol = makeVolume({ "a.txt": "alpha", "b.txt": "bravo", "c.txt": "charlie", "d/e.txt": "echo" });
    const { handler } = open({ remote });
    const first = await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    expect([...first.values()].every((o) => o.ok)).toBe(true);

    const at = (p: string) => join(remote, "vol", p);
    rmSync(at("a.txt"));
    writeFileSync(at("b.txt"), "br");
    // same size and mtime: rclone copy would consider it unchanged
    overwriteKeepingTimes(at("c.txt"), "CHARLIE");

    const ver = await outcomes(handler.verify(vol.manifest, makeCtx(vol)));
    expect(ver.get("a.txt")).toMatchObject({ ok: false, missing: true });
    expect(ver.get("b.txt")).toMatchObject({ ok: false });
    expect((ver.get("b.txt") as any).reason).toContain("size");
    expect((ver.get("b.txt") as any).missing).toBeUndefined();
    expect(ver.get("c.txt")).toMatchObject({ ok: false });
    expect((ver.get("c.txt") as any).reason).toContain("differs");
    expect(ver.get("d/e.txt")).toMatchObject({ ok: true, method: "sha256" });

    const ctx = makeCtx(vol, { runId: 42n });
    const rep = await outcomes(handler.push(vol.manifest, ctx));
    for (const p of ["a.txt", "b.txt", "c.txt", "d/e.txt"]) expect([p, rep.get(p)!.ok]).toEqual([p, true]);
    expect(readFileSync(at("c.txt"), "utf8")).toBe("charlie");
    const hist = join(remote, "vol", ".hoard", "history", "run-42");
    expect(readFileSync(join(hist, "c.txt"), "utf8")).toBe("CHARLIE");
    expect(readFileSync(join(hist, "b.txt"), "utf8")).toBe("br");
    // the history is not part of what verify compares
    const again = await outcomes(handler.verify(vol.manifest, makeCtx(vol)));
    expect([...again.values()].every((o) => o.ok)).toBe(true);
  });

  test("a re-push accepts unchanged objects on their receipts (earlier time, no re-hash); verify re-checks everything", async () => {
    const remote = tmp();
    const vol = makeVolume({ "a.txt": "alpha", "b.txt": "bravo", "c.txt": "charlie" });
    const { handler } = open({ remote });
    const first = await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    const t1 = (first.get("a.txt") as any).verifiedAt as bigint;

    // b.txt changes locally (new content, new manifest row); a.txt and c.txt are untouched
    writeFileSync(join(vol.root, "b.txt"), "bravo two");
    const m2 = vol.manifest.map((e) => (e.path === "b.txt" ? entryFor(vol.root, "b.txt", 2n) : e));
    const ctx2 = makeCtx(vol, { runId: 8n });
    const second = await outcomes(handler.push(m2, ctx2));
    expect(second.get("a.txt")).toMatchObject({ ok: true, unchanged: true, method: "sha256", verifiedAt: t1 });
    expect(second.get("c.txt")).toMatchObject({ ok: true, unchanged: true, method: "sha256", verifiedAt: t1 });
    expect(second.get("b.txt")).toMatchObject({ ok: true, method: "sha256", transferred: true });
    expect((second.get("b.txt") as any).unchanged).toBeUndefined();
    expect((second.get("b.txt") as any).verifiedAt).toBeGreaterThan(t1);
    // only the transferred file needed a digest
    expect(ctx2.digestCalls.reduce((n, c) => n + c.count, 0)).toBe(1);

    // a silent same-size, same-mtime change is invisible to a receipt, but verify re-hashes
    const p = join(remote, "vol", "c.txt");
    overwriteKeepingTimes(p, "CHARLIE");
    const third = await outcomes(handler.push(m2, makeCtx(vol, { runId: 9n })));
    expect(third.get("c.txt")).toMatchObject({ ok: true, unchanged: true, verifiedAt: t1 });
    const ctxv = makeCtx(vol);
    const ver = await outcomes(handler.verify(m2, ctxv));
    expect(ver.get("c.txt")).toMatchObject({ ok: false });
    expect((ver.get("a.txt") as any).verifiedAt).toBeGreaterThan(t1);
    expect((ver.get("a.txt") as any).unchanged).toBeUndefined();
    // the failed receipt is gone: the next push checks c.txt again and repairs it
    const fourth = await outcomes(handler.push(m2, makeCtx(vol, { runId: 10n })));
    expect(fourth.get("c.txt")).toMatchObject({ ok: true });
    expect(readFileSync(p, "utf8")).toBe("charlie");
  });

  test("a name rclone's local backend cannot open is reported (not copied, not retried), the rest verify", async () => {
    const remote = tmp();
    const vol = makeVolume({ "q‛x.txt": "quote", "ok.txt": "fine" });
    const { handler } = open({ remote });
    const ctx = makeCtx(vol);
    const res = await outcomes(handler.push(vol.manifest, ctx));
    expect(res.get("ok.txt")).toMatchObject({ ok: true });
    expect(res.get("q‛x.txt")).toMatchObject({ ok: false, missing: true });
    expect((res.get("q‛x.txt") as any).reason).toContain("U+201B");
    expect(ctx.warnings).toEqual([]);
  });

  test("a file changed locally after indexing is not verified and is reported as changed", async () => {
    const remote = tmp();
    const vol = makeVolume({ "a.txt": "original" });
    writeFileSync(join(vol.root, "a.txt"), "modified after indexing");
    const { handler } = open({ remote });
    const res = await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    expect(res.get("a.txt")!.ok).toBe(false);
  });

  test("offloaded entries are only verified: cached digest proves them, loss is reported as missing", async () => {
    const remote = tmp();
    const vol = makeVolume({ "keep.txt": "keep", "gone.txt": "gone", "lost.txt": "lost", "nodigest.txt": "nodigest" });
    const { handler } = open({ remote });
    const cache = new Map<string, string>();
    const r1 = await outcomes(handler.push(vol.manifest, makeCtx(vol, { cache })));
    expect([...r1.values()].every((o) => o.ok)).toBe(true);
    // offload gone.txt, lost.txt and nodigest.txt locally
    const off = vol.manifest.map((e) => (e.path === "keep.txt" ? e : { ...e, status: "offloaded" as const }));
    for (const p of ["gone.txt", "lost.txt", "nodigest.txt"]) rmSync(join(vol.root, p));
    const nd = vol.manifest.find((e) => e.path === "nodigest.txt")!;
    cache.delete(`sha256:${nd.contentId}`);
    rmSync(join(remote, "vol", "lost.txt"));
    for (const run of ["verify", "push"] as const) {
      const res = await outcomes(handler[run](off, makeCtx(vol, { cache })));
      expect(res.get("keep.txt")).toMatchObject({ ok: true });
      expect(res.get("gone.txt")).toMatchObject({ ok: true, method: "sha256" });
      expect(res.get("lost.txt")).toMatchObject({ ok: false, missing: true });
      // no digest cached for offloaded content: read back from the destination into BLAKE3 instead
      expect(res.get("nodigest.txt")).toMatchObject({ ok: true, method: "blake3" });
    }
  });

  test("verify of a volume that was never pushed: every entry missing", async () => {
    const vol = makeVolume({ "a.txt": "a", "b/c.txt": "c" });
    const { handler } = open({ remote: tmp() });
    const res = await outcomes(handler.verify(vol.manifest, makeCtx(vol)));
    for (const o of res.values()) expect(o).toMatchObject({ ok: false, missing: true });
  });

  test("fetch copies one file (hostile name) to the target; a missing file throws", async () => {
    const remote = tmp();
    const vol = makeVolume({ "x/new\nline [1]*.txt": "payload", "-dash": "d" });
    const { handler } = open({ remote });
    await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    const out = tmp();
    for (const e of vol.manifest) {
      const target = join(out, `.restore-tmp-${e.contentId}`);
      await handler.fetch(e, target, makeCtx(vol));
      expect(readFileSync(target)).toEqual(readFileSync(join(vol.root, ...e.path.split("/"))));
    }
    rmSync(join(remote, "vol", "-dash"));
    const err = await handler.fetch(vol.manifest.find((e) => e.path === "-dash")!, join(out, "t2"), makeCtx(vol)).catch((e) => e);
    expect(err).toBeInstanceOf(HoardError);
    expect(err.kind).toBe("failure");
  });

  test("a lying rclone whose copy exits 0 without copying: nothing is verified", async () => {
    const remote = tmp();
    const vol = makeVolume({ "a.txt": "a", "b/c.txt": "c" });
    const { handler } = open({ remote, binary: FAKE_RCLONE }, { HOARD_FAKE_RCLONE_MODE: "nocopy", HOARD_FAKE_RCLONE_REAL: REAL_RCLONE });
    const res = await outcomes(handler.push(vol.manifest, makeCtx(vol)));
    for (const o of res.values()) expect(o).toMatchObject({ ok: false, missing: true });
    expect(existsSync(join(remote, "vol"))).toBe(false);
  });

  test("a lying rclone after a real push: stale but intact files verify, a changed file does not", async () => {
    const remote = tmp();
    const vol = makeVolume({ "a.txt": "a", "b.txt": "b" });
    await outcomes(open({ remote }).handler.push(vol.manifest, makeCtx(vol)));
    writeFileSync(join(vol.root, "b.txt"), "b2");
    const m2 = [vol.manifest[0]!, entryFor(vol.root, "b.txt", 2n)];
    const { handler } = open({ remote, binary: FAKE_RCLONE }, { HOARD_FAKE_RCLONE_MODE: "nocopy", HOARD_FAKE_RCLONE_REAL: REAL_RCLONE });
    const res = await outcomes(handler.push(m2, makeCtx(vol)));
    expect(res.get("a.txt")).toMatchObject({ ok: true });
    expect(res.get("b.txt")).toMatchObject({ ok: false });
  });

  test("a missing rclone binary is a failure naming it", async () => {
    const { handler } = open({ remote: tmp(), binary: "/nonexistent/rclone" });
    const err = await handler.capabilities().catch((e) => e);
    expect(err).toBeInstanceOf(HoardError);
    expect(err.message).toContain("/nonexistent/rclone");
    expect(readdirSync(tmp()).length).toBe(0);
  });
});
