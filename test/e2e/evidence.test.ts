// Evidence end to end (invariants 3 and 4): receipts refresh nothing, verify and rolling re-verification refresh,
// a run that did not verify the whole prefix moves only updated_at, and the history logs each write.

import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { appendFileSync, rmSync } from "node:fs";
import type { World } from "../helpers.ts";
import { code, evidence, liveStatus, rows, syncedWorld, cleanupWorlds } from "./lib.ts";

// every test drives several real hoard processes; the machine may be busy
setDefaultTimeout(180_000);

afterAll(cleanupWorlds);
const hist = (w: World) => rows(w, "SELECT kind, old_run, new_run, run, verified_at FROM evidence_history ORDER BY id");

test.concurrent("equal-value writes: a receipt check keeps the old time, verify re-reads and refreshes, a partial verify only touches updated_at", async () => {
  const w = await syncedWorld();
  const first = evidence(w)!;
  expect(first.verified_at).not.toBeNull();

  // with rolling re-verification off, a second sync accepts the unchanged objects on their receipts:
  // a receipt is not a verification, so neither verified_at nor confirmed_run moves (only updated_at)
  appendFileSync(w.config, 'reverify_budget = "0"\n'); // [destinations.nas] is the config's last table
  const s2 = code(await w.hoardAsync("sync", "photos", "--json"), 0);
  expect(s2.json.results[0].counts).toMatchObject({ transferred: 0, unchanged: 3, checked: 0, verified: 3 });
  expect(s2.json.results[0].evidence[0]).toMatchObject({ result: "unchanged", origin_run: Number(first.origin_run) });
  const second = evidence(w)!;
  expect(second.verified_at).toBe(first.verified_at);
  expect(second.confirmed_run).toBe(first.confirmed_run);

  // verify re-reads every byte: verified_at moves forward
  const v = code(await w.hoardAsync("verify", "nas", "photos", "--json"), 0);
  const third = evidence(w)!;
  expect(third.verified_at!).toBeGreaterThan(first.verified_at!);
  expect(third.confirmed_run).toBe(BigInt(v.json.results[0].run_id));
  expect(third.origin_run).toBe(first.origin_run);

  // a verify that cannot confirm the whole prefix: only updated_at moves, no history row
  rmSync(w.path("nas/photos/a.txt"));
  code(await w.hoardAsync("verify", "nas", "photos"), 4);
  const fourth = evidence(w)!;
  expect({ ...fourth, updated_at: 0n }).toEqual({ ...third, updated_at: 0n });
  expect(fourth.updated_at).toBeGreaterThan(third.updated_at);

  expect(hist(w).map((h: any) => `${h.kind}@${h.run}`)).toEqual([`advance@${first.confirmed_run}`, `reverify@${third.confirmed_run}`]);
});

test.concurrent("rolling re-verification: with the default budget a no-change sync reads every object of a small volume again and refreshes the evidence", async () => {
  const w = await syncedWorld();
  const first = evidence(w)!;
  const s2 = code(await w.hoardAsync("sync", "photos", "--json"), 0);
  expect(s2.json.results[0].counts).toMatchObject({ transferred: 0, unchanged: 0, checked: 3, rechecked: 3 });
  expect(s2.json.results[0].evidence[0]).toMatchObject({ result: "reverified" });
  const second = evidence(w)!;
  expect(second.verified_at!).toBeGreaterThan(first.verified_at!);
  expect(second.confirmed_run).toBe(BigInt(s2.json.results[0].run_id));
});

test.concurrent("the newest content goes away (missing): the next verified sync still re-confirms the whole current prefix", async () => {
  const w = await syncedWorld();
  w.write("vol/new.txt", "newest content\n");
  const idx = code(await w.hoardAsync("index", "photos", "--json"), 0);
  code(await w.hoardAsync("sync", "photos"), 0);
  expect(evidence(w)!.origin_run).toBe(BigInt(idx.json.run_id));
  rmSync(w.path("vol/new.txt"));
  code(await w.hoardAsync("index", "photos"), 0);
  expect(liveStatus(w)["new.txt"]).toBe("missing");
  // every remaining file verifies: the component keeps its value and is confirmed by this run
  const s = code(await w.hoardAsync("sync", "photos", "--json"), 0);
  expect(s.json.results[0].evidence[0]).toMatchObject({ result: "reverified", origin_run: Number(idx.json.run_id) });
  expect(evidence(w)).toMatchObject({ origin_run: BigInt(idx.json.run_id), confirmed_run: BigInt(s.json.results[0].run_id) });
  expect(hist(w).at(-1)).toMatchObject({ kind: "reverify", old_run: BigInt(idx.json.run_id), new_run: BigInt(idx.json.run_id) });
  // and a file restored after that sync is not offloadable until a sync confirms it again
  code(await w.hoardAsync("offload", "photos", "a.txt"), 0);
  code(await w.hoardAsync("restore", "photos", "a.txt"), 0);
  const dry = code(await w.hoardAsync("offload", "photos", "a.txt", "--dry-run", "--json"), 0);
  expect(dry.json.refusals.map((r: any) => r.code)).toEqual(["not_confirmed"]);
});

test.concurrent("rolling re-verification within a budget: one object per sync, oldest check first; verified_at moves only once every object of the prefix was read again", async () => {
  const w = await syncedWorld();
  appendFileSync(w.config, 'reverify_budget = "1B"\n'); // [destinations.nas] is the last table: one object per sync
  const first = evidence(w)!;
  const checkedBefore = rows<{ path: string; checked_at: bigint }>(w, "SELECT path, checked_at FROM dest_objects ORDER BY path");
  const seen: string[] = [];
  for (let i = 0; i < 3; i++) {
    const s = code(await w.hoardAsync("sync", "photos", "--json"), 0);
    expect(s.json.results[0].counts).toMatchObject({ rechecked: 1, checked: 1, unchanged: 2 });
    const now = rows<{ path: string; checked_at: bigint }>(w, "SELECT path, checked_at FROM dest_objects ORDER BY path");
    const moved = now.filter((r, j) => r.checked_at > checkedBefore[j]!.checked_at && !seen.includes(r.path)).map((r) => r.path);
    expect(moved).toHaveLength(1); // a different object each time: the one whose check was oldest
    seen.push(moved[0]!);
    const ev = evidence(w)!;
    // verified_at is exactly the oldest content check behind the prefix: never fresher
    const oldest = now.reduce((m, r) => (r.checked_at < m ? r.checked_at : m), now[0]!.checked_at);
    expect(ev.verified_at).toBe(oldest);
    expect(ev.confirmed_run).toBe(first.confirmed_run); // no run content-checked the whole prefix at once
    if (i < 2) expect(ev.verified_at!).toBeLessThan(now.find((r) => r.path === moved[0])!.checked_at); // an older check still stands behind it
    else {
      // every object was read again since the first sync
      expect(ev.verified_at!).toBeGreaterThan(checkedBefore.reduce((m, r) => (r.checked_at > m ? r.checked_at : m), 0n));
      expect(s.json.results[0].evidence[0].result).toBe("refreshed");
    }
  }
  expect(seen.sort()).toEqual(["a.txt", "dir/b.txt", "dir/sub/c.bin"]);
});
