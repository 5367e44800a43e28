// The destination contract suite: one function, runDestinationContract(name, makeDestination), that
// holds every destination type to the same handler contract (docs/design.md, "The destination contract").

import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { DestinationHandler, FileOutcome, ManifestEntry } from "../../src/kernel/plugin.ts";
import { nowNs } from "../../src/kernel/runtime.ts";
import { blake3Hex, collect, corruptKeepingTimes, makeCtx, tmp, Volume, type MakeDestination, type Target } from "./harness.ts";

const SLOW = 900_000; // restic retries damaged packs before it gives up: minutes on a busy machine
const json = (x: unknown) => JSON.stringify(x, (_, val) => (typeof val === "bigint" ? String(val) : val));
const byPath = (list: FileOutcome[]) => new Map(list.map((o) => [o.path, o]));
const CONTENT = ["blake3", "sha256", "sha1", "md5"];

/** An initialised destination and a handler on it. */
async function ready(make: MakeDestination): Promise<{ t: Target; h: DestinationHandler; id: string }> {
  const t = await make();
  const h = t.handler();
  const id = (await h.init()).id;
  return { t, h, id };
}

function expectOneEach(entries: ManifestEntry[], out: FileOutcome[]): Map<string, FileOutcome> {
  expect(out.map((o) => o.path).sort()).toEqual(entries.map((e) => e.path).sort());
  return byPath(out);
}

function expectContentOk(o: FileOutcome | undefined, path: string): void {
  expect({ path, ok: o?.ok, why: o && !o.ok ? o.reason : undefined }).toEqual({ path, ok: true, why: undefined });
  if (o?.ok) {
    expect(CONTENT.some((m) => o.method.split("+").includes(m))).toBe(true);
    expect(o.verifiedAt).toBeLessThanOrEqual(BigInt(Date.now() + 1000) * 1_000_000n);
  }
}

export const HOSTILE: Record<string, string> = {
  "-leading-dash.txt": "dash\n",
  "quotes 'single' \"double\".txt": "quotes\n",
  "$(touch pwned) `id`.txt": "subst\n",
  "tab\there.txt": "tab\n",
  [`${"n".repeat(251)}.bin`]: "long name (255 bytes)\n",
  "nfd-e\u0301.txt": "nfd\n",
  "emoji-📷🎞.jpg": "emoji\n",
  "dir with space/-x/[glob]*?.txt": "glob\n",
};

/**
 * Known deviations of a type from the contract, each with the reason: the assertion is skipped and
 * the reason printed, so a deviation is visible rather than silently tolerated.
 */
export interface Deviations {
  /** identify() of an unreachable place answers "uninitialised" instead of throwing. */
  unreachableLooksUninitialised?: string;
  /** The hostile 255-byte name cannot be stored (e.g. encrypted names grow past the filesystem's limit): its push must fail, not be claimed; it is left out of fetch. */
  longNameUnstorable?: string;
}

export function runDestinationContract(name: string, make: MakeDestination, deviations: Deviations = {}): void {
  describe.concurrent(`destination contract: ${name}`, () => {
    test(
      "init/identify: uninitialised vs unreachable; identity stable across handlers; a re-created destination has a new identity",
      async () => {
        const t = await make();
        expect(await t.handler().identify()).toBe("uninitialised");
        if (deviations.unreachableLooksUninitialised) console.warn(`${name}: known deviation: ${deviations.unreachableLooksUninitialised}`);
        else await expect(t.unreachable().identify()).rejects.toThrow();
        const h = t.handler();
        const id = (await h.init()).id;
        expect(typeof id).toBe("string");
        expect(id.length).toBeGreaterThan(0);
        expect(await h.identify()).toMatchObject({ id });
        expect(await t.handler().identify()).toMatchObject({ id });
        // init never adopts an existing destination
        await expect(t.handler().init()).rejects.toThrow();
        expect(await t.handler().identify()).toMatchObject({ id });
        t.wipe();
        expect(await t.handler().identify()).toBe("uninitialised");
        const id2 = (await t.handler().init()).id;
        expect(id2).not.toBe(id);
        expect(await t.handler().identify()).toMatchObject({ id: id2 });
      },
      SLOW,
    );

    test(
      "push of present and offloaded entries: one outcome each, content-checked; a file the tool could not take is not claimed",
      async () => {
        const { t, h } = await ready(make);
        const vol = new Volume();
        const a = vol.write("a.txt", "alpha\n");
        const b = vol.write("d/b.txt", "bravo\n");
        const gone = vol.write("d/gone.txt", "gone\n");
        vol.remove("d/gone.txt"); // indexed, then deleted before the push
        const m1 = [a, b, gone];
        const p1 = expectOneEach(m1, await collect(h.push(m1, makeCtx(vol))));
        expectContentOk(p1.get("a.txt"), "a.txt");
        expectContentOk(p1.get("d/b.txt"), "d/b.txt");
        expect(p1.get("d/gone.txt")?.ok).toBe(false);

        // b is offloaded (its local copy deleted): still verified from what the destination holds
        vol.remove("d/b.txt");
        const c = vol.write("c.txt", "charlie\n");
        const m2 = [a, { ...b, status: "offloaded" as const }, c];
        const p2 = expectOneEach(m2, await collect(t.handler().push(m2, makeCtx(vol, { runId: 2n }))));
        for (const e of m2) expectContentOk(p2.get(e.path), e.path);
        const v = expectOneEach(m2, await collect(h.verify(m2, makeCtx(vol, { runId: 3n }))));
        for (const e of m2) {
          expectContentOk(v.get(e.path), e.path);
          expect((v.get(e.path) as any).unchanged).toBeUndefined();
        }
        // an offloaded entry the destination never held is missing, not claimed
        const never = { ...c, path: "never.txt", status: "offloaded" as const };
        const p3 = byPath(await collect(h.push([a, never], makeCtx(vol, { runId: 4n }))));
        expect(p3.get("never.txt")?.ok).toBe(false);
      },
      SLOW,
    );

    test(
      "verify after loss and after corruption that keeps size and mtime: nothing is claimed",
      async () => {
        for (const damage of ["loss", "corruption"] as const) {
          const { t, h } = await ready(make);
          const vol = new Volume();
          const m = [vol.write("a.txt", "alpha alpha alpha\n"), vol.write("d/b.bin", new Uint8Array(70_000).fill(7))];
          const p = byPath(await collect(h.push(m, makeCtx(vol))));
          for (const e of m) expectContentOk(p.get(e.path), e.path);
          const files = t.dataFiles();
          expect(files.length).toBeGreaterThan(0);
          for (const f of files) damage === "loss" ? rmSync(f) : corruptKeepingTimes(f);
          const v = expectOneEach(m, await collect(t.handler().verify(m, makeCtx(vol, { runId: 2n }))));
          for (const e of m) expect({ damage, path: e.path, ok: v.get(e.path)?.ok }).toEqual({ damage, path: e.path, ok: false });
          // a push under the same scope must not settle them on receipts either
          const again = byPath(await collect(t.handler().push(m, makeCtx(vol, { runId: 3n }))));
          for (const e of m) if (again.get(e.path)?.ok) expect({ damage, path: e.path, unchanged: (again.get(e.path) as any).unchanged }).toEqual({ damage, path: e.path, unchanged: undefined });
        }
      },
      SLOW,
    );

    test(
      "confirm at both depths: presence = exists with the indexed size; content = hash compared now; never from receipts",
      async () => {
        const { t, h } = await ready(make);
        const vol = new Volume();
        const m = [vol.write("a.txt", "alpha\n"), vol.write("d/b.txt", "bravo bravo\n")];
        await collect(h.push(m, makeCtx(vol)));
        await collect(h.push(m, makeCtx(vol, { runId: 2n }))); // receipts exist now, where a type keeps them
        const cp = expectOneEach(m, await collect(h.confirm(m, makeCtx(vol), "presence")));
        for (const e of m) expect(cp.get(e.path)).toMatchObject({ ok: true, method: "presence" });
        const cc = expectOneEach(m, await collect(h.confirm(m, makeCtx(vol), "content")));
        for (const e of m) {
          expectContentOk(cc.get(e.path), e.path);
          expect((cc.get(e.path) as any).unchanged).toBeUndefined();
        }
        // another size is not presence; another hash is not content
        const wrongSize = { ...m[0]!, size: m[0]!.size + 1 };
        expect((await collect(h.confirm([wrongSize], makeCtx(vol), "presence")))[0]?.ok).toBe(false);
        const wrongHash = { ...m[0]!, blake3: "0".repeat(64), contentId: m[0]!.contentId + 1_000_000n }; // another content (ids are per content)
        expect((await collect(h.confirm([wrongHash], makeCtx(vol), "content")))[0]?.ok).toBe(false);
        // an entry never pushed
        const never = { ...m[0]!, path: "never.txt" };
        for (const depth of ["presence", "content"] as const) expect((await collect(h.confirm([never], makeCtx(vol), depth)))[0]?.ok).toBe(false);
        // corrupted stored bytes (same size and mtime): content fails
        for (const f of t.dataFiles()) corruptKeepingTimes(f);
        const c2 = expectOneEach(m, await collect(t.handler().confirm(m, makeCtx(vol), "content")));
        for (const e of m) expect({ path: e.path, ok: c2.get(e.path)?.ok }).toEqual({ path: e.path, ok: false });
      },
      SLOW,
    );

    test(
      "fetch gives the bytes back exactly, hostile names included",
      async () => {
        const { t, h } = await ready(make);
        const vol = new Volume();
        const m = Object.entries(HOSTILE).map(([p, c]) => vol.write(p, c));
        const big = new Uint8Array(3 * 1024 * 1024);
        for (let i = 0; i < big.length; i++) big[i] = (i * 31 + (i >> 11)) & 0xff;
        m.push(vol.write("big.bin", big));
        const long = Object.keys(HOSTILE).find((n) => Buffer.byteLength(n) === 255)!;
        const unstorable = (path: string) => !!deviations.longNameUnstorable && path === long;
        if (deviations.longNameUnstorable) console.warn(`${name}: known deviation: ${deviations.longNameUnstorable}`);
        const p = expectOneEach(m, await collect(h.push(m, makeCtx(vol))));
        for (const e of m) unstorable(e.path) ? expect({ path: e.path, ok: p.get(e.path)?.ok }).toEqual({ path: e.path, ok: false }) : expectContentOk(p.get(e.path), e.path);
        const v = expectOneEach(m, await collect(t.handler().verify(m, makeCtx(vol))));
        for (const e of m) unstorable(e.path) ? expect({ path: e.path, ok: v.get(e.path)?.ok }).toEqual({ path: e.path, ok: false }) : expectContentOk(v.get(e.path), e.path);
        const out = tmp("hoard-contract-fetch-");
        let i = 0;
        for (const e of m.filter((e) => !unstorable(e.path))) {
          const target = join(out, `f${i++}`);
          await h.fetch(e, target, makeCtx(vol));
          expect({ path: e.path, same: Buffer.compare(readFileSync(target), readFileSync(join(vol.root, e.path))) === 0 }).toEqual({ path: e.path, same: true });
        }
        expect(existsSync(join(vol.root, "pwned"))).toBe(false);
      },
      SLOW,
    );

    test(
      "abort mid-push through the signal: no ok outcome for a file that is not held",
      async () => {
        const { t, h } = await ready(make);
        const vol = new Volume();
        const m: ManifestEntry[] = [];
        for (let i = 0; i < 40; i++) m.push(vol.write(`f/${String(i).padStart(2, "0")}.bin`, new Uint8Array(256 * 1024).fill(i)));
        const ctx = makeCtx(vol, { onProgress: (_p, c) => c.abort.abort() });
        let out: FileOutcome[] = [];
        try {
          out = await collect(h.push(m, ctx));
        } catch {
          out = []; // a push may throw when aborted: then it claims nothing
        }
        expect(ctx.signal.aborted).toBe(true);
        const okPaths = out.filter((o) => o.ok).map((o) => o.path);
        expect(new Set(out.map((o) => o.path)).size).toBe(out.length); // at most one outcome each
        if (okPaths.length > 0) {
          const held = m.filter((e) => okPaths.includes(e.path));
          const v = byPath(await collect(t.handler().verify(held, makeCtx(vol, { runId: 2n }))));
          for (const e of held) expectContentOk(v.get(e.path), e.path);
        }
        // and the destination still works: a full push afterwards holds everything
        const p = byPath(await collect(t.handler().push(m, makeCtx(vol, { runId: 3n }))));
        for (const e of m) expectContentOk(p.get(e.path), e.path);
      },
      SLOW,
    );

    test(
      "receipts: only under the same receiptScope, never for recheck entries, never by verify; a scope change re-checks everything",
      async () => {
        const { t, h } = await ready(make);
        const vol = new Volume();
        const m = [vol.write("a.txt", "alpha\n"), vol.write("d/b.txt", "bravo\n")];
        const first = byPath(await collect(h.push(m, makeCtx(vol, { receiptScope: "s1" }))));
        for (const e of m) expect((first.get(e.path) as any).unchanged).toBeUndefined();
        const before = nowNs(); // the handlers' own clock
        const same = byPath(await collect(h.push(m, makeCtx(vol, { receiptScope: "s1", runId: 2n }))));
        for (const e of m) {
          expectContentOk(same.get(e.path), e.path);
          const o = same.get(e.path) as any;
          if (o.unchanged) expect(o.verifiedAt).toBeLessThanOrEqual(before); // the receipt's time, not now
        }
        const re = byPath(await collect(h.push(m.map((e) => ({ ...e, recheck: true })), makeCtx(vol, { receiptScope: "s1", runId: 3n }))));
        for (const e of m) {
          expectContentOk(re.get(e.path), e.path);
          expect((re.get(e.path) as any).unchanged).toBeUndefined();
        }
        const other = byPath(await collect(t.handler().push(m, makeCtx(vol, { receiptScope: "s2", runId: 4n }))));
        for (const e of m) {
          expectContentOk(other.get(e.path), e.path);
          expect((other.get(e.path) as any).unchanged).toBeUndefined();
        }
        const v = byPath(await collect(h.verify(m, makeCtx(vol, { receiptScope: "s2", runId: 5n }))));
        for (const e of m) expect((v.get(e.path) as any).unchanged).toBeUndefined();
      },
      SLOW,
    );

    test(
      "secrets: the destination's secret is in no argv of a spawned process and in no outcome or error",
      async () => {
        const t = await make();
        if (!t.secret) return; // this type is configured without a secret
        const texts: string[] = [];
        const h = t.handler();
        await h.init();
        const vol = new Volume();
        const m = [vol.write("a.txt", "alpha\n")];
        texts.push(json(await collect(h.push(m, makeCtx(vol)))));
        texts.push(json(await collect(h.verify(m, makeCtx(vol)))));
        for (const d of ["presence", "content"] as const) texts.push(json(await collect(h.confirm(m, makeCtx(vol), d))));
        await h.fetch(m[0]!, join(tmp(), "x"), makeCtx(vol));
        // errors too: a fetch of something never pushed, an init of an initialised destination
        for (const f of [() => h.fetch({ ...m[0]!, path: "never.txt" }, join(tmp(), "y"), makeCtx(vol)), () => t.handler().init()])
          try {
            await f();
          } catch (e: any) {
            texts.push(`${e?.message} ${e?.hint ?? ""}`);
          }
        texts.push(json(await h.capabilities()));
        for (const s of texts) expect(s.includes(t.secret)).toBe(false);
        const argv = t.argv?.() ?? [];
        expect(argv.length).toBeGreaterThan(0);
        for (const a of argv) for (const x of a) expect(x.includes(t.secret)).toBe(false);
      },
      SLOW,
    );

    test(
      "catalogs (types that store them): put two, list both from a new handler, get is byte-exact, names are never replaced, an unknown name fails clearly",
      async () => {
        const { t, h } = await ready(make);
        if (!h.putCatalog || !h.listCatalogs || !h.getCatalog) return console.warn(`${name}: stores no catalogs (putCatalog/listCatalogs/getCatalog absent)`);
        const vol = new Volume();
        const a = vol.write("a.txt", "alpha\n");
        const ctx = makeCtx(vol);
        const catName = (at: bigint, bytes: Uint8Array) => `${String(at).padStart(20, "0")}-${blake3Hex(bytes)}.hcat`;
        expect(await h.listCatalogs("vol")).toEqual([]);
        // as in hoard, a catalog is written after a push (the kernel also creates the state dir first)
        expectContentOk(byPath(await collect(h.push([a], ctx))).get("a.txt"), "a.txt");
        // a small text one, and a large binary one (every byte value, NUL and CR/LF included)
        const b1 = new Uint8Array(Buffer.from('HOARDCAT1\n{"x":1}\n{"rows":[]}'));
        const b2 = new Uint8Array(300_000).map((_, i) => (i * 131 + (i >> 9)) & 0xff);
        const n1 = catName(1_700_000_000_000_000_001n, b1);
        const n2 = catName(1_700_000_000_000_000_002n, b2);
        await h.putCatalog("vol", n1, b1, ctx);
        await h.putCatalog("vol", n2, b2, ctx);
        const h2 = t.handler();
        await h2.identify();
        expect([...(await h2.listCatalogs!("vol"))].sort()).toEqual([n1, n2]);
        expect(await h2.listCatalogs!("other")).toEqual([]);
        for (const [n, b] of [[n1, b1], [n2, b2]] as const) expect({ n, same: Buffer.compare(Buffer.from(await h2.getCatalog!("vol", n)), Buffer.from(b)) === 0 }).toEqual({ n, same: true });
        // the same name again with the same bytes: nothing changes; with other bytes: refused, the stored bytes kept
        await h2.putCatalog!("vol", n1, b1, makeCtx(vol));
        await expect(h2.putCatalog!("vol", n1, b2, makeCtx(vol))).rejects.toThrow();
        expect([...(await h2.listCatalogs!("vol"))].sort()).toEqual([n1, n2]);
        expect(Buffer.compare(Buffer.from(await h2.getCatalog!("vol", n1)), Buffer.from(b1))).toBe(0);
        // an unknown name fails, naming it; a malformed name is refused
        const unknown = catName(1_700_000_000_000_000_003n, new Uint8Array([1, 2, 3]));
        await expect(h2.getCatalog!("vol", unknown)).rejects.toThrow(unknown);
        await expect(h2.getCatalog!("other", unknown)).rejects.toThrow();
        await expect(h2.getCatalog!("vol", "../../etc/passwd")).rejects.toThrow();
        // catalogs are no data: a push and a verify of the volume after them are unaffected
        const p = byPath(await collect(h2.push([a], makeCtx(vol, { runId: 2n }))));
        expectContentOk(p.get("a.txt"), "a.txt");
        const v = byPath(await collect(t.handler().verify([a], makeCtx(vol, { runId: 3n }))));
        expectContentOk(v.get("a.txt"), "a.txt");
        expect([...(await t.handler().listCatalogs!("vol"))].sort()).toEqual([n1, n2]);
      },
      SLOW,
    );
  });
}
