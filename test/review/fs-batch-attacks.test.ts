// Review attacks on the fs destination's batched push: an abort mid-batch, an entry that fails to stage
// inside a batch, large copies (the kernel-copy path) and the fsync-each path; nothing claimed before durable.

import { afterAll, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { PushProbe } from "../../plugins/fs/push.ts";
import type { FileOutcome } from "../../src/kernel/plugin.ts";
import { cleanup, fakeApi, makeCtx, makeVolume, tmp } from "../rclone/harness.ts";

afterAll(cleanup);

type Kind = "data" | "dirs" | "claim";

/** Every path's steps in order; `onStep` may act (abort) when a step is seen. */
function recorder(at: (p: string) => string, onStep?: (kind: Kind, paths: string[]) => void) {
  const seen = new Map<string, Kind[]>();
  const problems: string[] = [];
  const probe: PushProbe = {
    step(kind, paths) {
      for (const p of paths) {
        seen.set(p, [...(seen.get(p) ?? []), kind]);
        if (kind === "data" && existsSync(at(p))) problems.push(`${p}: name exists before its copy was durable`);
        if (kind !== "data" && !existsSync(at(p))) problems.push(`${p}: not in place at ${kind}`);
      }
      onStep?.(kind, paths);
    },
  };
  return { seen, problems, probe };
}

const temps = (dir: string): string[] => (existsSync(dir) ? readdirSync(dir, { recursive: true }).map(String).filter((n) => n.split("/").pop()!.startsWith(".hoard-tmp-")) : []);

async function scenario() {
  // small batches (read at each push; HOARD_TEST_FS_SYNC=fsync in the environment runs the fsync-each path)
  process.env.HOARD_FS_BATCH = "7";
  const { openFs } = await import("../../plugins/fs/index.ts");
  const root = tmp();
  const content: Record<string, string> = {};
  for (let i = 0; i < 40; i++) content[`d${i % 3}/f${String(i).padStart(2, "0")}.txt`] = `file ${i} `.repeat((i % 7) + 1);
  content["big/large.bin"] = "L".repeat(3 << 20); // beyond one chunk: the kernel-copy path
  const vol = makeVolume(content);
  // one entry changed after the index: its copy fails its check inside a batch
  const changed = "d0/f06.txt";
  writeFileSync(join(vol.root, changed), "changed after the index, longer than before");
  const at = (p: string) => join(root, "vol", p);
  let batches = 0;
  const ctx = makeCtx(vol);
  const r = recorder(at, (kind) => {
    if (kind === "claim" && ++batches === 2) ctx.abort.abort(); // abort in the middle of the push
  });
  const h = openFs(fakeApi(), { path: root }, { name: "nas", stateDir: tmp() }, r.probe);
  await h.init();
  let out: FileOutcome[];
  try {
    out = (await h.push(vol.manifest, ctx)) as FileOutcome[];
  } finally {
    delete process.env.HOARD_FS_BATCH; // the test files after this one in the process push in full batches
  }
  return { out, r, root, content, changed, at, vol };
}

test("abort mid-push, a failed entry in a batch, a large copy: every claim follows its data and its directory", async () => {
    const { out, r, root, content, changed, at, vol } = await scenario();
    expect(r.problems).toEqual([]);
    // stopped early: some entries were never reached (no outcome), the rest in manifest order
    expect(out.length).toBeGreaterThan(0);
    expect(out.length).toBeLessThan(vol.manifest.length);
    expect(out.map((o) => o.path)).toEqual(vol.manifest.slice(0, out.length).map((e) => e.path));
    expect(out.some((o) => o.path === changed)).toBe(true);
    for (const o of out) {
      if (o.path === changed) {
        expect(o.ok).toBe(false);
        expect(r.seen.has(o.path)).toBe(false);
        expect(existsSync(at(o.path))).toBe(false);
        continue;
      }
      expect(o).toMatchObject({ ok: true, transferred: true });
      // made durable, then its directory, then claimed: exactly once each, in that order
      expect(r.seen.get(o.path)).toEqual(["data", "dirs", "claim"]);
      expect(readFileSync(at(o.path), "utf8")).toBe(content[o.path]!);
    }
    // nothing claimed that has no outcome, nothing placed that was not claimed, no temp left behind
    const claimed = [...r.seen].filter(([, k]) => k.includes("claim")).map(([p]) => p);
    expect(claimed.sort()).toEqual(out.filter((o) => o.ok).map((o) => o.path).sort());
    for (const e of vol.manifest.slice(out.length)) expect(existsSync(at(e.path))).toBe(false);
    expect(temps(root)).toEqual([]);
  });
