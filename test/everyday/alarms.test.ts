// `hoard alarms` and `hoard alarm ack ID --note`: a file lost for good can be acknowledged, recorded
// (who, when, why, by a run) and never deleted, so `status --check` goes green again.

import { afterAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { rmSync } from "node:fs";
import { cleanupWorlds, code, liveStatus, row, rows, syncedWorld } from "../e2e/lib.ts";
import type { World } from "../helpers.ts";

afterAll(cleanupWorlds);
const T = 300_000;

/** Offload a.txt, lose its copy at each of `dests`, and let `kind` (verify or sync) find it. */
async function loseOffloaded(w: World, dests: string[], kind: "verify" | "sync" = "verify") {
  code(await w.hoardAsync("offload", "photos", "a.txt"), 0);
  expect(liveStatus(w)["a.txt"]).toBe("offloaded");
  for (const d of dests) rmSync(w.path(`${d}/photos/a.txt`));
  for (const d of dests) {
    const r = kind === "verify" ? await w.hoardAsync("verify", d, "photos") : await w.hoardAsync("sync", "photos", "--to", d);
    code(r, 4);
    expect(r.stdout).toContain("ALARM a.txt");
  }
}
const openIds = async (w: World) => (code(await w.hoardAsync("alarms", "--json"), 0).json.alarms as any[]).map((a) => a.id);

describe("hoard alarms / alarm ack", () => {
  test("a lost file is acknowledged: recorded, never deleted, status --check goes green, the row goes missing", async () => {
    const w = await syncedWorld();
    await loseOffloaded(w, ["nas"]);
    const red = code(await w.hoardAsync("status", "--check", "--json"), 4).json.problems.find((p: any) => p.code === "alarm");
    expect(red.hint).toContain("hoard alarm ack ID --note");

    const list = code(await w.hoardAsync("alarms", "--json"), 0).json.alarms;
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ state: "open", volume: "photos", destination: "nas", path: "a.txt", acked: null, cleared_at: null });
    const id = list[0].id;
    const human = code(await w.hoardAsync("alarms"), 0).stdout;
    expect(human).toContain("a.txt");
    expect(human).toContain("hoard alarm ack ID");

    // --note is required (usage, exit 2), and nothing changes without it
    for (const extra of [[], ["--note", ""], ["--note", "   "]]) {
      const r = code(await w.hoardAsync("alarm", "ack", String(id), ...extra, "--json"), 2);
      expect(r.json.error.code).toBe("missing_option");
    }
    expect(code(await w.hoardAsync("alarm", "ack", "999", "--note", "x", "--json"), 2).json.error.code).toBe("no_such_alarm");
    expect(code(await w.hoardAsync("alarm", "ack", "abc", "--note", "x", "--json"), 2).json.error.code).toBe("bad_id");
    expect(await openIds(w)).toEqual([id]);
    expect(liveStatus(w)["a.txt"]).toBe("offloaded");

    const ack = code(await w.hoardAsync("alarm", "ack", String(id), "--note", "the only copy was on the stolen disk", "--json"), 0).json;
    expect(ack).toMatchObject({ file_given_up: true, note: "the only copy was on the stolen disk", alarm: { id, state: "acknowledged" } });
    expect(ack.by).toEndWith("@testnode");
    expect(ack.acknowledged.map((a: any) => a.id)).toEqual([id]);

    // green again; the alarm is listed with --all only, with who/when/why and the run
    const st = await w.hoardAsync("status", "--check", "--json");
    code(st, 0);
    expect(st.json.problems).toEqual([]);
    expect(st.json.alarms).toBe(0);
    expect(await openIds(w)).toEqual([]);
    const all = code(await w.hoardAsync("alarms", "--all", "--json"), 0).json.alarms;
    expect(all).toHaveLength(1);
    expect(all[0]).toMatchObject({ id, state: "acknowledged", acked: { run_id: ack.run_id, note: "the only copy was on the stolen disk", by: ack.by } });
    expect(all[0].acked.at).toMatch(/^\d{4}-/);
    expect(code(await w.hoardAsync("alarms", "--all"), 0).stdout).toContain("the only copy was on the stolen disk");

    // the audit trail: a run of kind alarm-ack with the note; the row is missing, changed by that run
    const runs = code(await w.hoardAsync("runs", "--kind", "alarm-ack", "--json"), 0).json.runs;
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ id: ack.run_id, status: "success", volume: "photos" });
    expect(runs[0].note).toContain("the only copy was on the stolen disk");
    expect(liveStatus(w)["a.txt"]).toBe("missing");
    expect(row(w, "SELECT status_changed_run AS r FROM files WHERE volume = 'photos' AND path = 'a.txt' AND status = 'missing'")!.r).toBe(BigInt(ack.run_id));
    const ls = code(await w.hoardAsync("ls", "photos", "a.txt", "--json"), 0).json;
    expect(JSON.stringify(ls)).toContain("missing");

    // acknowledged twice: a clear refusal naming the first acknowledgement
    const again = code(await w.hoardAsync("alarm", "ack", String(id), "--note", "again", "--json"), 3);
    expect(again.json.error.code).toBe("alarm_already_acked");
    expect(again.json.error.message).toContain("the only copy was on the stolen disk");

    // later runs raise nothing for the given-up file, and monitoring stays green
    code(await w.hoardAsync("verify", "nas", "photos"), 0);
    code(await w.hoardAsync("sync", "photos"), 0);
    code(await w.hoardAsync("status", "--check"), 0);
    expect(rows(w, "SELECT id FROM alarms")).toHaveLength(1);

    // alarms are never deleted, and an acknowledgement is never rewritten (the schema says so)
    const db = new Database(w.db);
    try {
      expect(() => db.query("DELETE FROM alarms").run()).toThrow(/never deleted/);
      expect(() => db.query("UPDATE alarms SET acked_note = 'rewritten'").run()).toThrow(/never changed/);
    } finally {
      db.close();
    }
  }, T);

  test("a file another destination still holds is not lost: refused, naming the restore, which clears the alarm", async () => {
    const w = await syncedWorld({ extraDests: ["cloud"], require: ["nas", "cloud"] });
    code(await w.hoardAsync("sync", "photos", "--to", "cloud"), 0);
    await loseOffloaded(w, ["nas"]);
    const [id] = await openIds(w);
    const r = code(await w.hoardAsync("alarm", "ack", String(id), "--note", "gone", "--json"), 3);
    expect(r.json.error.code).toBe("alarm_not_lost");
    expect(r.json.error.message).toContain("cloud");
    expect(r.json.error.hint).toContain("hoard restore photos \"a.txt\" --from cloud");
    expect(await openIds(w)).toEqual([id]);
    expect(liveStatus(w)["a.txt"]).toBe("offloaded");
    code(await w.hoardAsync("status", "--check"), 4);
    // the refusal is in the audit trail too
    expect(rows(w, "SELECT status FROM runs WHERE kind = 'alarm-ack'").map((x) => x.status)).toEqual(["refused"]);

    // the way out it names: restore from cloud, sync pushes it back to nas and clears the alarm
    code(await w.hoardAsync("restore", "photos", "a.txt", "--from", "cloud"), 0);
    code(await w.hoardAsync("sync", "photos"), 0);
    expect(await openIds(w)).toEqual([]);
    expect(code(await w.hoardAsync("alarms", "--all", "--json"), 0).json.alarms[0]).toMatchObject({ id, state: "cleared", acked: null });
    code(await w.hoardAsync("status", "--check"), 0);
    expect(code(await w.hoardAsync("alarm", "ack", String(id), "--note", "late", "--json"), 3).json.error.code).toBe("alarm_cleared");
  }, T);

  test("a file lost at every destination: one acknowledgement covers each of its alarms; a sync-raised alarm goes green after the next sync", async () => {
    const w = await syncedWorld({ extraDests: ["cloud"], require: ["nas", "cloud"] });
    code(await w.hoardAsync("sync", "photos", "--to", "cloud"), 0);
    await loseOffloaded(w, ["nas", "cloud"], "sync");
    const ids = await openIds(w);
    expect(ids).toHaveLength(2);
    const ack = code(await w.hoardAsync("alarm", "ack", String(ids[1]), "--note", "both copies lost", "--json"), 0).json;
    expect(ack.acknowledged.map((a: any) => a.id)).toEqual(ids);
    expect(ack.file_given_up).toBe(true);
    expect(await openIds(w)).toEqual([]);
    // the last syncs were partial (they found the loss): still reported until a sync succeeds
    const st = code(await w.hoardAsync("status", "--check", "--json"), 4).json;
    expect(st.problems.map((p: any) => p.code).sort()).toEqual(["last_sync_partial", "last_sync_partial"]);
    code(await w.hoardAsync("sync", "photos"), 0);
    code(await w.hoardAsync("status", "--check"), 0);
    expect(code(await w.hoardAsync("alarm", "ack", String(ids[0]), "--note", "x", "--json"), 3).json.error.code).toBe("alarm_already_acked");
  }, T);

  test("alarms VOLUME: an unknown volume is a usage error; a volume with no alarms lists none", async () => {
    const w = await syncedWorld();
    expect(code(await w.hoardAsync("alarms", "nope", "--json"), 2).json.error.code).toBe("unknown_volume");
    expect(code(await w.hoardAsync("alarms", "photos", "--json"), 0).json).toEqual({ alarms: [] });
    expect(code(await w.hoardAsync("alarms"), 0).stdout).toContain("no open alarms");
  }, T);
});
