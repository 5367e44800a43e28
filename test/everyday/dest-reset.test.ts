// A wiped destination (identity marker gone, its directory emptied or removed) is reported as wiped,
// never as a credentials problem, and `hoard dest reset NAME` gets it working again: a new identity
// pinned, an event recorded, its old evidence no longer counting, behind --yes.

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { asyncFsWorld, cleanupWorlds, code, row, rows, syncedWorld } from "../e2e/lib.ts";
import { cleanupWorlds as cleanupRclone, rcloneWorld } from "../rclone-e2e/lib.ts";
import type { Result } from "../helpers.ts";

afterAll(() => (cleanupWorlds(), cleanupRclone()));
const T = 300_000;
const MARKER = ".hoard-destination";

/** The error of a one-destination `sync --json` (the error document; a results entry with several destinations). */
const syncError = (r: Result) => r.json.error ?? r.json.results?.[0]?.error;

/** The error of a --json run: says what happened and the way out, never blames credentials. */
function wipedError(r: Result, name: string) {
  const e = r.json.error;
  const text = `${e.message}\n${e.hint}`;
  expect(text).not.toMatch(/credential|password/i);
  expect(e.hint).toContain(`hoard dest reset ${name} --yes`);
  return e;
}

describe("dest reset of a wiped destination", () => {
  test("fs, marker deleted: sync says it looks wiped; reset previews, then pins a new identity in a new epoch; old evidence stops counting", async () => {
    const w = await syncedWorld();
    const old = JSON.parse(readFileSync(w.path(`nas/${MARKER}`), "utf8")).id;
    rmSync(w.path(`nas/${MARKER}`)); // the objects are still there, the identity is gone

    const s = code(await w.hoardAsync("sync", "photos", "--json"), 3);
    expect(syncError(s).code).toBe("dest_identity_changed");
    const e = syncError(s);
    expect(e.message).toContain("looks wiped");
    expect(`${e.message}\n${e.hint}`).not.toMatch(/credential|password/i);
    expect(e.hint).toContain("hoard dest reset nas --yes");
    const human = code(await w.hoardAsync("sync", "photos"), 3);
    expect(human.stdout + human.stderr).toContain("next: if it was wiped, run `hoard dest reset nas --yes`");
    const off = code(await w.hoardAsync("offload", "photos", "a.txt", "--json"), 3);
    expect(off.json.error.hint).toContain("hoard dest reset nas --yes");
    expect(existsSync(w.path("vol/a.txt"))).toBe(true);

    // without --yes: what it would do, and nothing done
    const plan = code(await w.hoardAsync("dest", "reset", "nas", "--json"), 0).json;
    expect(plan).toMatchObject({ applied: false, pinned_identity: old, shows_identity: null, epoch: 1, new_epoch: 2, components_zeroed: 1 });
    expect(plan.message).toContain("wiped");
    expect(plan.message).toContain("--yes");
    expect(existsSync(w.path(`nas/${MARKER}`))).toBe(false);
    expect(row(w, "SELECT epoch FROM destinations WHERE name = 'nas'")!.epoch).toBe(1n);

    const done = code(await w.hoardAsync("dest", "reset", "nas", "--yes", "--json"), 0).json;
    expect(done).toMatchObject({ applied: true, epoch: 2 });
    expect(done.identity).not.toBe(old);
    expect(JSON.parse(readFileSync(w.path(`nas/${MARKER}`), "utf8")).id).toBe(done.identity);
    expect(code(await w.hoardAsync("dests", "--json"), 0).json.destinations[0]).toMatchObject({ name: "nas", identity: done.identity, epoch: 2 });
    const ev = rows(w, "SELECT kind, old_identity, new_identity, epoch, run, note FROM destination_events WHERE destination = 'nas' AND kind = 'reset'");
    expect(ev).toEqual([{ kind: "reset", old_identity: old, new_identity: done.identity, epoch: 2n, run: BigInt(done.run_id), note: expect.stringContaining("wiped") }]);
    expect(rows(w, "SELECT status FROM runs WHERE kind = 'dest-reset'").map((r) => r.status)).toEqual(["success"]);

    // the old evidence is zeroed in the new epoch (its history kept): nothing may go until a sync verifies again
    const evid = code(await w.hoardAsync("evidence", "--json"), 0).json.evidence;
    expect(evid).toHaveLength(1);
    expect(evid[0]).toMatchObject({ destination: "nas", origin_run: 0, verified_at: null, epoch: 2, current_epoch: true });
    expect(rows(w, "SELECT kind, epoch FROM evidence_history WHERE destination = 'nas' AND kind = 'reset'")).toEqual([{ kind: "reset", epoch: 2n }]);
    expect(code(await w.hoardAsync("offload", "photos", ".", "-n", "--json"), 0).json.counts.offloadable).toBe(0);
    code(await w.hoardAsync("sync", "photos"), 0);
    expect(code(await w.hoardAsync("offload", "photos", ".", "-n", "--json"), 0).json.counts.offloadable).toBe(3);
    code(await w.hoardAsync("status", "--check"), 0);
  }, T);

  test("fs, directory removed: named as missing (not credentials); reset refuses to create it, then works once it is recreated", async () => {
    const w = await syncedWorld();
    rmSync(w.path("nas"), { recursive: true, force: true });
    const s = code(await w.hoardAsync("sync", "photos", "--json"), 1);
    const e = wipedError(s, "nas");
    expect(e.message).toContain("does not exist");
    expect(e.hint).toContain("create that directory again");

    for (const yes of [[], ["--yes"]]) {
      const r = code(await w.hoardAsync("dest", "reset", "nas", ...yes, "--json"), 3);
      expect(r.json.error.code).toBe("dest_reset_missing_root");
      expect(r.json.error.hint).toContain("mount it");
      wipedError(r, "nas");
    }
    expect(existsSync(w.path("nas"))).toBe(false);
    expect(row(w, "SELECT epoch FROM destinations WHERE name = 'nas'")!.epoch).toBe(1n);

    mkdirSync(w.path("nas"));
    code(await w.hoardAsync("dest", "reset", "nas", "--yes"), 0);
    code(await w.hoardAsync("sync", "photos"), 0);
    expect(row(w, "SELECT epoch FROM destinations WHERE name = 'nas'")!.epoch).toBe(2n);
  }, T);

  test("rclone local path emptied, then removed: wiped / missing, never a credentials problem; reset gets it back", async () => {
    const w = await rcloneWorld({ dest: (w) => ({ remote: w.path("dest") }) });
    await w.run(0, "index", "photos");
    await w.run(0, "sync", "photos");
    rmSync(w.path("dest"), { recursive: true, force: true });
    mkdirSync(w.path("dest")); // emptied: the marker is gone
    const s = await w.run(3, "sync", "photos", "--json");
    const e = wipedError(s, "r");
    expect(e.code).toBe("dest_identity_changed");
    expect(e.message).toContain("looks wiped");

    rmSync(w.path("dest"), { recursive: true, force: true }); // the root itself is gone
    const m = await w.run(1, "sync", "photos", "--json");
    const me = wipedError(m, "r");
    expect(me.message).toContain("does not exist");
    const r = await w.run(3, "dest", "reset", "r", "--yes", "--json");
    expect(r.json.error.code).toBe("dest_reset_missing_root");
    wipedError(r, "r");
    expect(existsSync(w.path("dest"))).toBe(false);

    mkdirSync(w.path("dest"));
    const plan = await w.run(0, "dest", "reset", "r", "--json");
    expect(plan.json).toMatchObject({ applied: false, shows_identity: null });
    await w.run(0, "dest", "reset", "r", "--yes");
    const ok = await w.run(0, "sync", "photos", "--json");
    expect(ok.json.results[0].counts).toMatchObject({ manifest: 3, verified: 3, transferred: 3 });
  }, T);

  test("a destination this database never pinned: reset refuses naming dest init, or dest adopt when it shows an identity", async () => {
    const w = await asyncFsWorld({ destInit: false });
    mkdirSync(w.path("nas"), { recursive: true });
    const fresh = code(await w.hoardAsync("dest", "reset", "nas", "--yes", "--json"), 3).json.error;
    expect(fresh).toMatchObject({ code: "dest_not_initialised" });
    expect(fresh.hint).toContain("hoard dest init nas");
    code(await w.hoardAsync("index", "photos"), 0);
    expect(code(await w.hoardAsync("sync", "photos", "--json"), 3).json.error.hint).toContain("hoard dest init nas");

    // it shows an identity (initialised by another database): adopt, not init
    writeFileSync(join(w.path("nas"), MARKER), JSON.stringify({ id: "b4c5d6e7-0000-4000-8000-000000000001", type: "fs", created_at: "2026-01-01T00:00:00Z" }) + "\n");
    const other = code(await w.hoardAsync("dest", "reset", "nas", "--yes", "--json"), 3).json.error;
    expect(other.code).toBe("dest_not_initialised");
    expect(other.hint).toContain("hoard dest adopt nas");
    expect(code(await w.hoardAsync("sync", "photos", "--json"), 3).json.error.hint).toContain("hoard dest adopt nas");
    expect(rows(w, "SELECT * FROM destinations")).toEqual([]);
  }, T);
});
