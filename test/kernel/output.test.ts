// Output contract: with --json every command prints exactly one JSON document on stdout and
// nothing else there (logs and warnings go to stderr); errors with --json are a JSON error
// document carrying the same exit code the process exits with.

import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { world, type Result, type World } from "../helpers.ts";
import { processStartTime, nowNs } from "../../src/kernel/runtime.ts";
import { SCHEMA_VERSION } from "../../src/kernel/db.ts";
import { quickWorld, withDb, Worlds } from "./util.ts";

const worlds = new Worlds();
afterAll(() => worlds.cleanup());
const T = 30_000;

/** stdout is one JSON document and nothing else (a second document or a log line would not parse). */
function oneDoc(r: Result): any {
  expect(r.stdout.endsWith("}\n")).toBe(true);
  expect(r.stdout.trimStart().startsWith("{")).toBe(true);
  let doc: any;
  expect(() => (doc = JSON.parse(r.stdout))).not.toThrow();
  expect(r.stdout).not.toMatch(/^\s*(WARN|INFO|ERROR|error:|warning:)/m);
  return doc;
}
function errorDoc(r: Result, exit: number, code?: string): any {
  expect(r.code).toBe(exit);
  const d = oneDoc(r);
  expect(d.ok).toBe(false);
  expect(d.error.exit_code).toBe(exit);
  expect(typeof d.error.message).toBe("string");
  if (code) expect(d.error.code).toBe(code);
  expect(r.stderr).toContain(d.error.message); // the human error still goes to stderr
  return d;
}

describe.concurrent("--json: exactly one document on stdout", () => {
  test("init, volume add, volumes, index, runs, runs show, db check", async () => {
    const w = worlds.track(world());
    w.write("vol/a.txt", "alpha\n");
    const init = await w.hoardAsync("init", "--node", "n1", "--json");
    expect(init.code).toBe(0);
    expect(oneDoc(init)).toMatchObject({ config: w.config, db: w.db, schema_version: SCHEMA_VERSION });
    const add = await w.hoardAsync("volume", "add", "photos", w.path("vol"), "--json");
    expect(add.code).toBe(0);
    expect(oneDoc(add)).toMatchObject({ volume: "photos", path: w.path("vol") });
    const vols = await w.hoardAsync("volumes", "--json");
    expect(vols.code).toBe(0);
    expect(oneDoc(vols).volumes).toHaveLength(1);
    // an index with a warning (partial: a name that is not UTF-8): the warning goes to stderr only
    writeFileSync(Buffer.concat([Buffer.from(w.path("vol") + "/"), Buffer.from([0xff, 0x41])]), "x");
    const idx = await w.hoardAsync("index", "photos", "--json");
    expect(idx.code).toBe(4);
    const doc = oneDoc(idx);
    expect(doc.status).toBe("partial");
    expect(idx.stderr).toMatch(/could not be indexed/);
    const runs = await w.hoardAsync("runs", "--json");
    expect(runs.code).toBe(0);
    expect(oneDoc(runs).runs[0].id).toBe(doc.run_id);
    const show = await w.hoardAsync("runs", "show", String(doc.run_id), "--json");
    expect(show.code).toBe(0);
    expect(oneDoc(show)).toMatchObject({ id: doc.run_id, kind: "index", status: "partial" });
    const check = await w.hoardAsync("db", "check", "--json");
    expect(check.code).toBe(0);
    expect(oneDoc(check).ok).toBe(true);
    // human mode: the summary on stdout, the warning on stderr only
    const human = await w.hoardAsync("index", "photos");
    expect(human.code).toBe(4);
    expect(human.stdout).toMatch(/^index photos \(run \d+\): partial/);
    expect(human.stdout).not.toMatch(/WARN|could not be indexed/);
    expect(human.stderr).toMatch(/could not be indexed/);
  }, T);

  test("errors with --json: a JSON error document and the matching exit code", async () => {
    const w = worlds.track(quickWorld());
    errorDoc(await w.hoardAsync("index", "nosuch", "--json"), 2, "unknown_volume");
    errorDoc(await w.hoardAsync("index", "photos", "--bogus", "--json"), 2, "unknown_flag");
    errorDoc(await w.hoardAsync("index", "--json"), 2, "missing_argument");
    errorDoc(await w.hoardAsync("runs", "show", "999", "--json"), 2, "no_such_run");
    errorDoc(await w.hoardAsync("runs", "show", "abc", "--json"), 2, "bad_id");
    errorDoc(await w.hoardAsync("init", "--json"), 3, "config_exists");
    // refused by the run gate
    const id = withDb(w.db, (db) =>
      (db.query("INSERT INTO runs(kind, volume, node, pid, pid_start, started_at) VALUES ('index','photos','testnode',?,?,?) RETURNING id").get(process.pid, processStartTime(process.pid)!, nowNs()) as any).id,
    );
    const gate = errorDoc(await w.hoardAsync("index", "photos", "--json"), 3, "run_conflict");
    expect(gate.error.details.blocker.id).toBe(Number(id));
    errorDoc(await w.hoardAsync("runs", "abort", "77", "--json"), 1, "no_such_run");
    // a DB from a newer hoard
    withDb(w.db, (db) => db.query("INSERT INTO schema_version(version, applied_at) VALUES (?, 1)").run(SCHEMA_VERSION + 1));
    errorDoc(await w.hoardAsync("runs", "--json"), 1, "db_too_new");
  }, T);

  test("config errors with --json exit 2 with a JSON error document", async () => {
    const w = worlds.track(quickWorld());
    writeFileSync(w.config, `node = "testnode"\nbogus_key = 1\n`);
    const d = errorDoc(await w.hoardAsync("runs", "--json"), 2);
    expect(d.error.message).toContain("bogus_key");
  }, T);
});
