// Measures a push + verify of ~200 small files and of one 256 MiB file to a local restic repository
// (the README's cost line): `bun test/restic/measure.ts`. Not a test: it asserts nothing about time.

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import plugin from "../../plugins/restic/index.ts";
import type { ManifestEntry } from "../../src/kernel/plugin.ts";
import { cleanup, collect, makeCtx, openType, tmp, typeOf, Volume } from "../contract/harness.ts";

const type = typeOf(plugin, "restic");

async function measure(label: string, fill: (v: Volume) => ManifestEntry[]) {
  const dir = tmp("hoard-restic-measure-");
  mkdirSync(join(dir, "repo"));
  const h = openType(type, { repository: join(dir, "repo"), password: "measure-pw" }, join(dir, "state"));
  await h.init();
  const vol = new Volume();
  const m = fill(vol);
  let t = performance.now();
  const p = await collect(h.push(m, makeCtx(vol)));
  const push = (performance.now() - t) / 1000;
  t = performance.now();
  const v = await collect(h.verify(m, makeCtx(vol, { runId: 2n })));
  const verify = (performance.now() - t) / 1000;
  t = performance.now();
  const again = await collect(h.push(m, makeCtx(vol, { runId: 3n })));
  const unchanged = (performance.now() - t) / 1000;
  const ok = (l: { ok: boolean }[]) => l.filter((o) => o.ok).length;
  console.log(`${label}: push ${push.toFixed(1)} s (${ok(p)}/${m.length} ok), verify ${verify.toFixed(1)} s (${ok(v)} ok), unchanged re-push ${unchanged.toFixed(1)} s (${again.filter((o: any) => o.unchanged).length} on receipts)`);
}

await measure("200 small files (1-64 KiB)", (vol) => {
  const out: ManifestEntry[] = [];
  for (let i = 0; i < 200; i++) {
    const b = new Uint8Array(1024 + ((i * 7919) % 63) * 1024);
    for (let j = 0; j < b.length; j += 64) b[j] = (i + j) & 0xff;
    out.push(vol.write(`d${i % 10}/f${i}.bin`, b));
  }
  return out;
});
await measure("one 256 MiB file", (vol) => {
  const b = new Uint8Array(256 * 1024 * 1024);
  for (let j = 0; j < b.length; j += 512) b[j] = (j >> 9) & 0xff;
  return [vol.write("big.bin", b)];
});
cleanup();
