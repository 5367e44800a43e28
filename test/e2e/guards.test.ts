// Guards of the CLI, end to end: offload needs a policy and a selector, bad selectors are usage
// errors (before anything is deleted), destinations must be initialised once, rewinds need --yes.

import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { code, evidence, liveStatus, read, rows, syncedWorld, cleanupWorlds, asyncFsWorld } from "./lib.ts";

// every test drives several real hoard processes; the machine may be busy
setDefaultTimeout(180_000);

afterAll(cleanupWorlds);
const ALL = { "a.txt": "present", "dir/b.txt": "present", "dir/sub/c.bin": "present" };

describe("offload arguments", () => {
  test.concurrent("a volume without offload_requires: refused, exit 3, nothing deleted", async () => {
    const w = await asyncFsWorld({ require: [] });
    code(await w.hoardAsync("index", "photos"), 0);
    code(await w.hoardAsync("sync", "photos"), 0);
    const off = code(await w.hoardAsync("offload", "photos", ".", "--json"), 3);
    expect(off.json.error.code).toBe("no_policy");
    expect(off.json.error.hint).toContain("offload_requires");
    expect(code(await w.hoardAsync("offload", "photos", "."), 3).stderr).toContain("no offload policy");
    expect(liveStatus(w)).toEqual(ALL);
    expect(read(w, "vol/a.txt")).toBe("alpha\n");
  });

  test.concurrent("selectors: none → exit 2; absolute, escaping or empty → exit 2 and nothing deleted; unmatched ones are reported", async () => {
    const w = await syncedWorld();
    const none = code(await w.hoardAsync("offload", "photos", "--json"), 2);
    expect(none.json.error.code).toBe("no_selector");
    expect(none.json.error.hint).toContain("hoard offload photos .");
    const bad: [string, string][] = [
      [w.path("nas/a.txt"), "selector_absolute"], // absolute, outside the volume (inside it, it works)
      ["/", "selector_absolute"],
      ["..", "selector_escapes"],
      ["../vol/a.txt", "selector_escapes"],
      ["dir/../../vol/a.txt", "selector_escapes"],
      ["./../x", "selector_escapes"],
      ["", "selector_empty"], // an unset shell variable must not mean "the whole volume"
    ];
    for (const [sel, err] of bad) {
      // a valid selector next to the bad one: still nothing may be deleted
      const r = code(await w.hoardAsync("offload", "photos", "a.txt", sel, "--json"), 2);
      expect(`${JSON.stringify(sel)} ${r.json.error.code}`).toBe(`${JSON.stringify(sel)} ${err}`);
    }
    expect(liveStatus(w)).toEqual(ALL);
    expect(read(w, "vol/a.txt")).toBe("alpha\n");
    expect(rows(w, "SELECT 1 FROM runs WHERE kind = 'offload' AND status = 'success'")).toHaveLength(0);

    const some = code(await w.hoardAsync("offload", "photos", "nope", "dir/b.txt", "--json"), 0);
    expect(some.json.unmatched).toEqual(["nope"]);
    expect(some.json.offloaded).toEqual(["dir/b.txt"]);
    const nothing = code(await w.hoardAsync("offload", "photos", "nothing/here", "--dry-run"), 0);
    expect(nothing.stdout).toContain("selector nothing/here matched no present file");
    expect(nothing.stdout).toContain("0 of 0 selected");
    // an already offloaded file no longer matches a present-file selector
    expect(code(await w.hoardAsync("offload", "photos", "dir/b.txt", "--json"), 0).json.unmatched).toEqual(["dir/b.txt"]);
  });
});

describe("destination initialisation", () => {
  test.concurrent("dest init twice: refused, pointing to dest reset; the identity is unchanged", async () => {
    const w = await asyncFsWorld();
    const marker = readFileSync(w.path("nas/.hoard-destination"), "utf8");
    const again = code(await w.hoardAsync("dest", "init", "nas", "--json"), 3);
    expect(again.json.error.code).toBe("dest_already_pinned");
    expect(again.json.error.hint).toContain("hoard dest reset nas --yes");
    expect(readFileSync(w.path("nas/.hoard-destination"), "utf8")).toBe(marker);
    expect(rows(w, "SELECT epoch FROM destinations WHERE name = 'nas'")).toEqual([{ epoch: 1n }]);
  });

  test.concurrent("sync to an uninitialised destination: refused, exit 3, run `hoard dest init`; nothing written there", async () => {
    const w = await asyncFsWorld({ destInit: false });
    code(await w.hoardAsync("index", "photos"), 0);
    const s = code(await w.hoardAsync("sync", "photos", "--json"), 3);
    expect(s.json.error.code).toBe("dest_not_initialised");
    expect(s.json.error.hint).toContain("hoard dest init nas");
    expect(code(await w.hoardAsync("sync", "photos", "--to", "nas"), 3).stderr).toContain("run `hoard dest init nas`");
    expect(existsSync(w.path("nas/photos"))).toBe(false);
    expect(rows(w, "SELECT status FROM runs WHERE kind = 'sync'").map((r: any) => r.status)).toEqual(["refused", "refused"]);
    expect(rows(w, "SELECT 1 FROM evidence")).toHaveLength(0);
    // verify too
    expect(code(await w.hoardAsync("verify", "nas", "photos", "--json"), 3).json.error.code).toBe("dest_not_initialised");
  });
});

describe("evidence rewind", () => {
  test.concurrent("without --yes refused and nothing changes; with --yes lowered, in history, and the gate follows", async () => {
    const w = await asyncFsWorld();
    const idx = code(await w.hoardAsync("index", "photos", "--json"), 0);
    const originRun = BigInt(idx.json.run_id);
    code(await w.hoardAsync("sync", "photos"), 0);
    const before = evidence(w)!;
    expect(before.origin_run).toBe(originRun);
    const to = String(originRun - 1n);

    const no = code(await w.hoardAsync("evidence", "rewind", "photos", "nas", "--origin", "testnode", "--to", to, "--json"), 3);
    expect(no.json.error.code).toBe("needs_yes");
    expect(no.json.error.message).toContain(`from run ${originRun} to ${to}`);
    expect(evidence(w)).toEqual(before);
    expect(rows(w, "SELECT kind FROM evidence_history").map((h: any) => h.kind)).toEqual(["advance"]);

    const up = code(await w.hoardAsync("evidence", "rewind", "photos", "nas", "--origin", "testnode", "--to", String(originRun + 5n), "--yes", "--json"), 3);
    expect(up.json.error.code).toBe("rewind_up");

    const yes = code(await w.hoardAsync("evidence", "rewind", "photos", "nas", "--origin", "testnode", "--to", to, "--yes", "--json"), 0);
    expect(yes.json).toMatchObject({ applied: true, from: Number(originRun), to: Number(to) });
    expect(evidence(w)).toMatchObject({ origin_run: BigInt(to), confirmed_run: null });
    const h = rows(w, "SELECT kind, old_run, new_run, run FROM evidence_history ORDER BY id");
    expect(h.map((x: any) => x.kind)).toEqual(["advance", "rewind"]);
    expect(h[1]).toMatchObject({ old_run: originRun, new_run: BigInt(to), run: BigInt(yes.json.run_id) });

    const dry = code(await w.hoardAsync("offload", "photos", ".", "--dry-run", "--json"), 0);
    expect(dry.json.counts.offloadable).toBe(0);
    expect(dry.json.refusals.map((r: any) => r.code)).toEqual(["not_covered"]);
    // a verified sync raises it again (an advance, also in history)
    code(await w.hoardAsync("sync", "photos"), 0);
    expect(evidence(w)!.origin_run).toBe(originRun);
    expect(rows(w, "SELECT kind FROM evidence_history ORDER BY id").map((x: any) => x.kind)).toEqual(["advance", "rewind", "advance"]);
  });
});
