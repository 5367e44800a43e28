// `hoard runs abort` never marks a live run aborted: a run whose process is alive on this node is
// refused (exit 3, unchanged); --force is only for a run of another node, and says so.

import { afterAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { truncateSync } from "node:fs";
import { fsWorld, hoardCommand, stopped, type World } from "../helpers.ts";
import { row, rows } from "../e2e/lib.ts";
import { withDb } from "../kernel/util.ts";
import { nowNs, pidExists } from "../../src/kernel/runtime.ts";

const made: World[] = [];
const children: number[] = [];
afterAll(() => {
  for (const pid of children.splice(0))
    try {
      process.kill(pid, "SIGKILL"); // only the hoard processes this file started
    } catch {}
  for (const w of made.splice(0)) w.cleanup();
});
const T = 120_000;

async function until<X>(what: string, f: () => X | undefined, ms = 60_000): Promise<X> {
  for (const end = Date.now() + ms; Date.now() < end; await Bun.sleep(50)) {
    const x = f();
    if (x !== undefined) return x;
  }
  throw new Error(`timed out waiting for ${what}`);
}

const runRow = (w: World, id: bigint) => row(w, "SELECT id, status, note, finished_at FROM runs WHERE id = ?", id)!;

describe("hoard runs abort", () => {
  test("refuses (exit 3) a run whose hoard process is alive here, even with --force; aborts it once that process is gone", async () => {
    const w = fsWorld({ files: { "small.txt": "small\n" } });
    made.push(w);
    // a file whose hashing takes minutes (sparse: no disk used), so the index run stays running
    truncateSync(w.write("vol/huge.bin", ""), 256 * 1024 ** 3);
    const [cmd, ...args] = [...hoardCommand(), "--config", w.config, "--db", w.db, "index", "photos"];
    const child = spawn(cmd!, args, { env: w.env, stdio: "ignore" });
    children.push(child.pid!);
    const running = await until("the index run to begin", () => rows(w, "SELECT id FROM runs WHERE kind = 'index' AND status = 'running'")[0]);
    const before = runRow(w, running.id);

    for (const extra of [[], ["--force"]]) {
      const r = await w.hoardAsync("runs", "abort", String(running.id), ...extra, "--json");
      expect(r.code).toBe(3);
      expect(r.json.error.code).toBe("run_alive");
      expect(r.json.error.message).toContain("alive on this node");
      if (extra.length) expect(r.json.error.message).toContain("--force applies only to runs of another node");
      expect(runRow(w, running.id)).toEqual(before);
    }

    child.kill("SIGKILL"); // the hoard process this test started: its run row stays `running`
    expect(await stopped(child.pid!)).toBe(true);
    expect(runRow(w, running.id).status).toBe("running");
    const dead = await w.hoardAsync("runs", "abort", String(running.id), "--force");
    expect(dead.code).toBe(2); // --force is for other nodes only
    expect(dead.stderr).toContain("--force applies only to runs of another node");
    expect(runRow(w, running.id).status).toBe("running");
    const ok = await w.hoardAsync("runs", "abort", String(running.id), "--note", "process killed");
    expect(ok.code).toBe(0);
    expect(runRow(w, running.id)).toMatchObject({ status: "aborted", note: "process killed" });
  }, T);

  test("a run of another node: refused without --force (exit 3); with it, aborted and saying it was forced", async () => {
    const w = fsWorld({ destInit: false });
    made.push(w);
    // a run recorded by another machine sharing this DB; its pid means nothing here
    const pid = (() => {
      for (;;) {
        const r = spawnSync("true");
        if (r.pid && !pidExists(r.pid)) return r.pid;
      }
    })();
    const id = withDb(w.db, (db) =>
      (db.query("INSERT INTO runs(kind, volume, touches, node, pid, pid_start, started_at) VALUES ('index','photos','[]','elsewhere',?,NULL,?) RETURNING id").get(pid, nowNs()) as { id: bigint }).id,
    );
    const before = runRow(w, id);
    const r = await w.hoardAsync("runs", "abort", String(id), "--json");
    expect(r.code).toBe(3);
    expect(r.json.error.code).toBe("run_other_node");
    expect(r.json.error.message).toContain("node elsewhere");
    expect(r.json.error.hint).toContain("--force");
    expect(runRow(w, id)).toEqual(before);

    const f = await w.hoardAsync("runs", "abort", String(id), "--force");
    expect(f.code).toBe(0);
    expect(f.stdout).toContain("forced");
    expect(f.stdout).toContain("elsewhere");
    const after = runRow(w, id);
    expect(after.status).toBe("aborted");
    expect(after.note).toContain("forced from node testnode");
  }, T);
});
