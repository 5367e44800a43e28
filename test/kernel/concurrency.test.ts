// Invariant 1 under real contention: about ten `hoard index` processes started at once against
// one volume. Exactly one wins; every other one is refused (exit 3) naming the winner's run id,
// and its attempt is recorded as a `refused` row.

import { afterEach, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { fsWorld, type World } from "../helpers.ts";
import { runsOf } from "./util.ts";

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

const PROCS = 10;

/** A volume of `files` files totalling about `mb` MiB (random bytes, so nothing is deduplicated). */
function bigWorld(files: number, mb: number): World {
  const per = Math.floor((mb * 1024 * 1024) / files);
  const content: Record<string, string> = {};
  for (let i = 0; i < files; i++) content[`d${i % 10}/f${i}.bin`] = "";
  const w = fsWorld({ destInit: false, files: { "seed.txt": "seed\n" }, env: { HOARD_BLAKE3: "noble" } });
  for (const rel of Object.keys(content)) w.write(`vol/${rel}`, randomBytes(per));
  return w;
}

test(`${PROCS} concurrent \`hoard index\` processes: exactly one wins, the rest are refused naming it`, async () => {
  // The pure-JS BLAKE3 backend (HOARD_BLAKE3=noble) and a few tens of MiB keep the winner busy for
  // longer than the others take to start; if they still did not overlap (a later process began
  // after the winner finished and so rightly succeeded) the scenario is retried with more data.
  let mb = 24;
  for (let attempt = 1; ; attempt++) {
    const w = bigWorld(300, mb);
    cleanups.push(() => w.cleanup());
    const t0 = process.hrtime.bigint();
    const results = await Promise.all(Array.from({ length: PROCS }, () => w.hoardAsync("index", "photos")));
    const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const runs = runsOf(w.db).filter((r) => r.kind === "index");
    const wins = runs.filter((r) => r.status === "success");
    expect(runs.every((r) => r.status === "success" || r.status === "refused")).toBe(true);
    expect(wins.length).toBeGreaterThanOrEqual(1);
    // two successful runs whose lifetimes overlap would be a broken gate: never acceptable
    for (const a of wins) for (const b of wins) if (a !== b) expect(a.finished_at < b.started_at || b.finished_at < a.started_at).toBe(true);
    const winner = wins[0]!;
    const refusedRows = runs.filter((r) => r.status === "refused");
    const overlapped = wins.length === 1 && refusedRows.every((r) => r.started_at < winner.finished_at);
    if (!overlapped) {
      console.warn(`attempt ${attempt}: no full overlap (${wins.length} sequential successes, ${elapsedMs.toFixed(0)} ms, ${mb} MiB); retrying with more data`);
      expect(attempt).toBeLessThan(4);
      mb *= 2;
      continue;
    }
    // exactly one process succeeded; every other exited 3 and named the winner's run id
    const codes = results.map((r) => r.code).sort();
    expect(codes).toEqual([0, ...Array(PROCS - 1).fill(3)]);
    for (const r of results.filter((x) => x.code === 3)) {
      expect(r.stderr).toContain(`conflicts with running run ${winner.id} (index of photos`);
      expect(r.stdout).toBe("");
    }
    // the DB: one successful index run, and every refused attempt recorded as a refused row naming it
    expect(refusedRows.length).toBe(PROCS - 1);
    for (const r of refusedRows) expect(r.error).toContain(`run ${winner.id} `);
    expect(runs.length).toBe(PROCS);
    expect(runs.filter((r) => r.status === "running")).toEqual([]);
    const ok = results.find((r) => r.code === 0)!;
    expect(ok.stdout).toContain(`(run ${winner.id})`);
    return;
  }
}, 120_000);
