// The fs destination's push makes each batch durable before it claims it: observed through the push's
// probe, every copy is made durable before its name exists, its directory after, and only then is it claimed.

import { afterAll, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { openFs } from "../../plugins/fs/index.ts";
import type { PushProbe } from "../../plugins/fs/push.ts";
import type { FileOutcome } from "../../src/kernel/plugin.ts";
import { syncfsCall } from "../../src/kernel/runtime.ts";
import { cleanup, fakeApi, makeCtx, makeVolume, tmp } from "../rclone/harness.ts";

afterAll(cleanup);

type Step = { kind: "data" | "dirs" | "claim"; paths: string[] };

/** A probe recording each step, checking the destination as it goes (`at`: the object of a path there). */
function recorder(at: (path: string) => string) {
  const steps: Step[] = [];
  const problems: string[] = [];
  const probe: PushProbe = {
    step(kind, paths) {
      steps.push({ kind, paths });
      for (const p of paths) {
        const dir = join(at(p), "..");
        const temps = existsSync(dir) ? readdirSync(dir).filter((n) => n.startsWith(".hoard-tmp-")) : [];
        if (kind === "data" && existsSync(at(p))) problems.push(`${p}: its name exists before its copy was made durable`);
        if (kind === "data" && temps.length === 0) problems.push(`${p}: no temp copy while it was made durable`);
        if (kind !== "data" && !existsSync(at(p))) problems.push(`${p}: not in place at step ${kind}`);
      }
    },
  };
  return { steps, problems, probe };
}

// 700 files in 5 directories in batches of 256 files (HOARD_FS_BATCH), then in full batches (up to 2048
// files, most descriptors closed once staged: the batch's syncfs covers them); 300 directories of one file
// each: a batch ends at 256 descriptors held (directory handles count)
for (const [name, dirs, batch] of [
  ["batches of 256 files", 5, "256"],
  ["full batches", 5, undefined],
  ["one file in each of 300 directories", 300, undefined],
] as const)
  test(`a push claims a batch only after its copies and then its directories were made durable, batch by batch (${name})`, async () => {
    const root = tmp();
    const content: Record<string, string> = {};
    for (let i = 0; i < (dirs === 300 ? 300 : 700); i++) content[`d${i % dirs}/f${i}.txt`] = `file ${i} `.repeat((i % 40) + 1);
    const vol = makeVolume(content);
    const at = (p: string) => join(root, "vol", p);
    const r = recorder(at);
    const h = openFs(fakeApi(), { path: root }, { name: "nas", stateDir: tmp() }, r.probe);
    await h.init();
    if (batch) process.env.HOARD_FS_BATCH = batch;
    let out: FileOutcome[];
    try {
      out = (await h.push(vol.manifest, makeCtx(vol))) as FileOutcome[];
    } finally {
      delete process.env.HOARD_FS_BATCH;
    }

    expect(r.problems).toEqual([]);
    expect(out.map((o) => o.path)).toEqual(vol.manifest.map((e) => e.path));
    for (const o of out) expect(o).toMatchObject({ ok: true, transferred: true });
    // each batch a data step, then a dirs step, then a claim of the same paths; full batches of 700 files
    // in 5 directories are one batch where the syncfs covers them (Linux ≥ 5.8, a local file system)
    expect(r.steps.length % 3).toBe(0);
    if (batch || dirs === 300) expect(r.steps.length / 3).toBeGreaterThan(1);
    else if (syncfsCall()) expect(r.steps.length / 3).toBe(1);
    for (let b = 0; b < r.steps.length; b += 3) {
      expect(r.steps.slice(b, b + 3).map((s) => s.kind)).toEqual(["data", "dirs", "claim"]);
      expect(r.steps[b + 1]!.paths).toEqual(r.steps[b]!.paths);
      expect(r.steps[b + 2]!.paths).toEqual(r.steps[b]!.paths);
    }
    // every path claimed once, and whole at the destination
    const claimed = r.steps.filter((s) => s.kind === "claim").flatMap((s) => s.paths);
    expect(claimed).toEqual(vol.manifest.map((e) => e.path));
    for (const p of claimed) expect(readFileSync(at(p), "utf8")).toBe(content[p]!);

    // a re-push (no receipts: each object is read back in place) copies nothing: claims with no data step
    const r2 = recorder(at);
    const h2 = openFs(fakeApi(), { path: root }, { name: "nas", stateDir: tmp() }, r2.probe);
    const again = (await h2.push(vol.manifest, makeCtx(vol, { runId: 2n }))) as FileOutcome[];
    for (const o of again) expect(o).toMatchObject({ ok: true });
    expect(r2.steps.filter((s) => s.kind !== "claim").flatMap((s) => s.paths)).toEqual([]);
    expect(r2.steps.filter((s) => s.kind === "claim").flatMap((s) => s.paths)).toEqual(vol.manifest.map((e) => e.path));
  });
