// The fs destination handler driven directly: concurrent pushes keep one outcome per entry in
// manifest order with every byte read back, an abort leaves only finished files (and no temp
// files), one failing entry does not stop or taint the others, and more directories than open handles work.

import { afterAll, expect, test } from "bun:test";
import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { openFs } from "../../plugins/fs/index.ts";
import type { FileOutcome } from "../../src/kernel/plugin.ts";
import { cleanup, fakeApi, makeCtx, makeVolume, tmp } from "../rclone/harness.ts";

afterAll(cleanup);

function files(n: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < n; i++) out[`d${i % 7}/sub${i % 3}/f${i}.txt`] = `file ${i} `.repeat((i % 50) + 1);
  return out;
}

/** Every file below dir (relative paths), hoard's own state excluded. */
function tree(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const d of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    if (r === ".hoard") continue;
    if (d.isDirectory()) out.push(...tree(dir, r));
    else out.push(r);
  }
  return out.sort();
}

async function init(root: string, stateDir = tmp()) {
  const h = openFs(fakeApi(), { path: root }, { name: "nas", stateDir });
  await h.init();
  return h;
}

test("a push of many files: one outcome per entry, in manifest order, each read back; no temp files; a re-push copies nothing", async () => {
  const root = tmp();
  const content = files(300);
  const vol = makeVolume(content);
  const h = await init(root);
  const out = (await h.push(vol.manifest, makeCtx(vol))) as FileOutcome[];
  expect(out.map((o) => o.path)).toEqual(vol.manifest.map((e) => e.path));
  for (const o of out) expect(o).toMatchObject({ ok: true, method: "blake3", transferred: true });
  for (const [p, c] of Object.entries(content)) expect(readFileSync(join(root, "vol", p), "utf8")).toBe(c);
  expect(tree(join(root, "vol"))).toEqual(Object.keys(content).sort());
  const again = (await h.push(vol.manifest, { ...makeCtx(vol, { runId: 8n }), receiptScope: "other" })) as FileOutcome[];
  expect(again.filter((o) => (o as any).transferred)).toEqual([]);
  expect(again.every((o) => o.ok)).toBe(true);
});

test("receipts: unchanged objects are reported unchanged (never verified now), never for recheck entries, and never under another scope; they live in local state only", async () => {
  const root = tmp();
  const state = tmp();
  const content = files(5);
  const vol = makeVolume(content);
  const h = await init(root, state);
  const scoped = (runId: bigint, scope: string) => ({ ...makeCtx(vol, { runId }), receiptScope: scope });
  const first = (await h.push(vol.manifest, scoped(1n, "S"))) as FileOutcome[];
  expect(first.every((o) => o.ok && !o.unchanged)).toBe(true);
  expect(tree(join(root, "vol")).some((p) => p.includes("receipt"))).toBe(false);
  expect(readdirSync(join(state, "receipts")).length).toBe(1);
  // silent corruption at the destination, size and mtime kept
  const victim = vol.manifest[0]!.path;
  const { flipBit } = await import("../e2e/lib.ts");
  flipBit(join(root, "vol", victim));
  const second = (await h.push(vol.manifest, scoped(2n, "S"))) as FileOutcome[];
  const at = (o: FileOutcome) => o as FileOutcome & { unchanged?: boolean; verifiedAt?: bigint };
  expect(second.every((o) => o.ok && at(o).unchanged === true)).toBe(true); // a receipt cannot see it: reported as unchanged, not verified
  expect(at(second[0]!).verifiedAt).toBe(at(first[0]!).verifiedAt); // the receipt's time, not now
  // the kernel asks for a content check of that entry: the corruption is found and repaired from the local copy
  const due = vol.manifest.map((e, i) => ({ ...e, recheck: i === 0 }));
  const third = (await h.push(due, scoped(3n, "S"))) as FileOutcome[];
  expect(third[0]).toMatchObject({ ok: true, transferred: true });
  expect(at(third[0]!).unchanged).toBeUndefined();
  expect(readFileSync(join(root, "vol", victim), "utf8")).toBe(content[victim]!);
  // another scope (new database, reset, rewind): every object is read again
  flipBit(join(root, "vol", vol.manifest[1]!.path));
  const fourth = (await h.push(vol.manifest, scoped(4n, "T"))) as FileOutcome[];
  expect(fourth.filter((o) => at(o).unchanged)).toEqual([]);
  expect(fourth[1]).toMatchObject({ ok: true, transferred: true });
});

test("confirm: presence sees a deleted or truncated object; content sees a flipped byte with size and mtime kept", async () => {
  const root = tmp();
  const content = files(4);
  const vol = makeVolume(content);
  const h = await init(root);
  await h.push(vol.manifest, makeCtx(vol));
  const [a, b, c] = vol.manifest.map((e) => join(root, "vol", e.path));
  rmSync(a!);
  const { flipBit } = await import("../e2e/lib.ts");
  flipBit(b!);
  const { truncateSync } = await import("node:fs");
  truncateSync(c!, 1);
  const pres = (await h.confirm(vol.manifest, makeCtx(vol), "presence")) as FileOutcome[];
  expect(pres.map((o) => o.ok)).toEqual([false, true, false, true]);
  expect(pres[0]).toMatchObject({ missing: true });
  expect(pres[1]).toMatchObject({ method: "presence" });
  const cont = (await h.confirm(vol.manifest, makeCtx(vol), "content")) as FileOutcome[];
  expect(cont.map((o) => o.ok)).toEqual([false, false, false, true]);
  expect((cont[1] as any).reason).toContain("differs");
  expect(cont[3]).toMatchObject({ ok: true, method: "blake3" });
});

test("aborted mid-push: outcomes only for entries that finished, each of them really there; nothing half-written is left", async () => {
  const root = tmp();
  const content = files(400);
  const vol = makeVolume(content);
  const h = await init(root);
  const ctx = makeCtx(vol);
  const progress = ctx.progress;
  ctx.progress = (p) => {
    progress(p);
    if (p.done === 50) ctx.abort.abort();
  };
  const out = (await h.push(vol.manifest, ctx)) as FileOutcome[];
  expect(out.length).toBeGreaterThanOrEqual(50);
  expect(out.length).toBeLessThan(400);
  for (const o of out) {
    expect(o.ok).toBe(true);
    expect(readFileSync(join(root, "vol", o.path), "utf8")).toBe(content[o.path]!);
  }
  // every file at the destination is a complete copy of its source (no temp names, no partial files)
  for (const p of tree(join(root, "vol"))) {
    expect(p).not.toContain(".hoard-tmp-");
    expect(readFileSync(join(root, "vol", p), "utf8")).toBe(content[p]!);
  }
});

test("one entry failing (its source vanished after the manifest was taken) fails alone", async () => {
  const root = tmp();
  const content = files(40);
  const vol = makeVolume(content);
  const gone = vol.manifest[17]!.path;
  rmSync(join(vol.root, gone));
  const h = await init(root);
  const out = (await h.push(vol.manifest, makeCtx(vol))) as FileOutcome[];
  expect(out).toHaveLength(40);
  for (const o of out) expect([o.path, o.ok]).toEqual([o.path, o.path !== gone]);
  expect((out[17] as any).reason).toContain("copy failed");
  expect(() => statSync(join(root, "vol", gone))).toThrow();
});

test("multi-chunk files are copied, checked and fetched whole; fetch never writes over an existing target; init refuses a second marker and identify reads the first", async () => {
  const root = tmp();
  const big = Buffer.alloc((3 << 20) + 12345);
  for (let i = 0; i < big.length; i += 97) big[i] = (i / 97) & 255;
  const vol = makeVolume({ "big.bin": big, "small.txt": "small\n" });
  const h = await init(root);
  const out = (await h.push(vol.manifest, makeCtx(vol))) as FileOutcome[];
  expect(out.map((o) => o.ok)).toEqual([true, true]);
  expect(readFileSync(join(root, "vol/big.bin")).equals(big)).toBe(true);
  const target = join(tmp(), "fetched");
  await h.fetch(vol.manifest[0]!, target, makeCtx(vol));
  expect(readFileSync(target).equals(big)).toBe(true);
  await expect(h.fetch(vol.manifest[1]!, target, makeCtx(vol))).rejects.toThrow();
  expect(readFileSync(target).equals(big)).toBe(true);
  const id = await h.identify();
  expect(typeof id === "object" && id.id).toBeTruthy();
  await expect(h.init()).rejects.toThrow("already a hoard destination");
  expect(await h.identify()).toEqual(id);
  expect(readdirSync(root).filter((n) => n.startsWith(".hoard-tmp-"))).toEqual([]);
});

test("more directories than handles kept open (idle ones closed, changed ones fsynced first): every file lands and verifies; a re-push is all receipts", async () => {
  const root = tmp();
  const content: Record<string, string> = {};
  for (let i = 0; i < 300; i++) content[`a${i % 3}/b${i}/f.txt`] = `file in ${i}\n`;
  const vol = makeVolume(content);
  const h = await init(root);
  const out = (await h.push(vol.manifest, makeCtx(vol))) as FileOutcome[];
  expect(out.filter((o) => !o.ok)).toEqual([]);
  expect(tree(join(root, "vol"))).toEqual(Object.keys(content).sort());
  for (const [p, c] of Object.entries(content)) expect(readFileSync(join(root, "vol", p), "utf8")).toBe(c);
  const v = (await h.verify(vol.manifest, makeCtx(vol))) as FileOutcome[];
  expect(v.filter((o) => !o.ok)).toEqual([]);
  const again = (await h.push(vol.manifest, makeCtx(vol))) as FileOutcome[];
  expect(again.every((o) => o.ok && o.unchanged)).toBe(true);
});
