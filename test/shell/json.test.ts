// --json everywhere: each command prints exactly one JSON document on stdout (snake_case keys, *_at
// as RFC 3339 with nanoseconds), errors print the error document, and docs/json.md covers every command.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fsWorld, ROOT, world, type Result, type World } from "../helpers.ts";
import { commandTree } from "../../src/cli/commands.ts";
import type { Command } from "../../src/cli/dispatch.ts";

/** Runnable command paths of the real tree ("" is hoard itself, which only prints help). */
function runnablePaths(): string[] {
  const out: string[] = [];
  const walk = (c: Command, path: string[]) => {
    if (c.run) out.push(path.join(" "));
    const subs = (c.subCommands as Record<string, Command>) ?? {};
    for (const [n, s] of Object.entries(subs)) walk(s, [...path, n]);
  };
  walk(commandTree("0"), []);
  return out;
}

const RFC3339_NS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/;
/** Keys under which the keys are data (names chosen by users or plugins), not hoard's field names. */
const DATA_MAPS = new Set(["facts", "details", "options", "table", "counts_by_status"]);

/** Every problem with a JSON value: non-snake_case keys, *_at fields that are not RFC 3339 ns times. */
function problems(x: unknown, at = "$"): string[] {
  const out: string[] = [];
  if (Array.isArray(x)) x.forEach((v, i) => out.push(...problems(v, `${at}[${i}]`)));
  else if (x && typeof x === "object")
    for (const [k, v] of Object.entries(x)) {
      if (!/^[a-z][a-z0-9_]*$/.test(k)) out.push(`${at}.${k}: key is not snake_case`);
      if ((k.endsWith("_at") || k === "at") && v !== null && !(typeof v === "string" && RFC3339_NS.test(v))) out.push(`${at}.${k}: ${JSON.stringify(v)} is not an RFC 3339 time with nanoseconds`);
      if (!DATA_MAPS.has(k)) out.push(...problems(v, `${at}.${k}`));
    }
  return out;
}

/** Exactly one JSON document and nothing else on stdout. */
function oneDocument(r: Result, what: string): any {
  let doc: unknown;
  try {
    doc = JSON.parse(r.stdout);
  } catch (e) {
    throw new Error(`${what}: stdout is not one JSON document (${(e as Error).message}):\n${r.stdout.slice(0, 500)}\nstderr: ${r.stderr.slice(0, 500)}`);
  }
  expect(r.stdout.endsWith("}\n") || r.stdout.endsWith("]\n")).toBe(true);
  expect(r.stdout.trimEnd().split("\n").filter((l) => /^[{\[]/.test(l)).length).toBe(1); // no second document
  expect({ what, problems: problems(doc) }).toEqual({ what, problems: [] });
  return doc;
}

let w: World;
const seen = new Set<string>();
beforeAll(() => {
  w = fsWorld({ extraDests: ["cloud"], files: { "a.txt": "alpha\n", "dir/b.txt": "bravo\n" } });
});
afterAll(() => w.cleanup());

/** Run `hoard PATH… ARGS --json` in the world; records that PATH was exercised. */
function j(path: string, args: string[] = [], expectCode = 0): any {
  seen.add(path);
  const r = w.hoard(...(path ? path.split(" ") : []), ...args, "--json");
  const doc = oneDocument(r, `hoard ${path} ${args.join(" ")}`);
  expect({ cmd: `${path} ${args.join(" ")}`, code: r.code, stderr: expectCode === r.code ? "" : r.stderr }).toEqual({ cmd: `${path} ${args.join(" ")}`, code: expectCode, stderr: "" });
  return doc;
}

describe("--json documents", () => {
  test("every command prints exactly one JSON document with stable field names", () => {
    // a separate world for init, which refuses existing files
    const fresh = world();
    try {
      const r = fresh.hoard("init", "--node", "n1", "--json");
      seen.add("init");
      expect(r.code).toBe(0);
      expect(Object.keys(oneDocument(r, "init")).sort()).toEqual(["config", "db", "key", "schema_version"]);
    } finally {
      fresh.cleanup();
    }
    expect(j("volume add", ["photos", w.path("vol")])).toMatchObject({ volume: "photos", path: w.path("vol") });
    expect(j("volumes").volumes[0]).toMatchObject({ name: "photos", marker: "ok", sync_to: ["nas", "cloud"], offload_requires: ["nas"] });
    expect(j("index", ["photos"])).toMatchObject({ volume: "photos", status: "success", dry_run: false });
    expect(j("sync", ["photos"]).results).toHaveLength(2);
    expect(j("verify", ["nas", "photos"]).results[0]).toMatchObject({ kind: "verify", destination: "nas", status: "success" });
    expect(j("offload", ["photos", "a.txt"]).counts.offloaded).toBe(1);
    expect(j("restore", ["photos", "--dry-run"])).toMatchObject({ dry_run: true });
    expect(j("restore", ["photos"]).counts.restored).toBe(1);
    expect(j("status").volumes[0].volume).toBe("photos");
    expect(j("status", ["--check"], 0)).toHaveProperty("problems");
    expect(j("evidence").evidence.length).toBeGreaterThan(0);
    expect(j("evidence rewind", ["photos", "nas", "--origin", "testnode", "--to", "0"], 3)).toMatchObject({ ok: false, error: { code: "needs_yes" } });
    expect(j("dests").destinations.map((d: any) => d.name).sort()).toEqual(["cloud", "nas"]);
    expect(j("dest init", ["nas"], 3)).toMatchObject({ ok: false }); // already initialised: refused
    expect(j("dest reset", ["cloud"])).toMatchObject({ applied: false });
    const runs = j("runs", ["--limit", "50"]).runs;
    expect(runs.length).toBeGreaterThan(3);
    expect(runs[0].started_at).toMatch(RFC3339_NS);
    expect(j("runs show", [String(runs.at(-1).id)])).toMatchObject({ id: runs.at(-1).id });
    expect(j("runs abort", [String(runs[0].id)], 3)).toMatchObject({ ok: false, error: { code: "not_running" } });
    expect(j("db check")).toMatchObject({ ok: true });
    expect(j("plugins").plugins[0]).toMatchObject({ name: "fs", source: "builtin" });
    expect(j("doctor").destinations).toHaveLength(2);
    expect(j("hooks").hooks).toEqual([]);
    expect(j("completion", ["fish"])).toMatchObject({ shell: "fish" });
    expect(j("completion names", ["volumes"])).toEqual({ volumes: ["photos"] });
    expect(Array.isArray(j("completion paths", ["photos", ""]).paths)).toBe(true);
    expect(j("demo", ["--dir", w.path("demo")])).toMatchObject({ ok: true });
    if (runnablePaths().includes("evidence expire")) expect(j("evidence expire", [])).toBeDefined();
    expect(j("ls", ["photos"])).toBeDefined();
    expect(j("key show")).toMatchObject({ public_key: expect.any(String), fingerprint: expect.any(String) });
    expect(j("db backup", [w.path("backup.db")])).toMatchObject({ file: w.path("backup.db") });
    expect(j("dest adopt", ["nas"], 3)).toMatchObject({ ok: false }); // already pinned here: refused
    expect(j("dest add", ["usb", "--type", "fs", `path=${w.path("usb")}`])).toBeDefined();
    mkdirSync(w.path("scratch"), { recursive: true });
    expect(j("volume add", ["scratch", w.path("scratch")])).toBeDefined();
    expect(j("volume rm", ["scratch"])).toBeDefined();
    expect(j("recover", ["--from", "nas"], 3)).toMatchObject({ ok: false }); // the volume already has rows: refused
    expect(j("alarms", ["--all"])).toEqual({ alarms: [] });
    expect(j("alarm ack", ["1", "--note", "lost"], 2)).toMatchObject({ ok: false, error: { code: "no_such_alarm" } });
  }, 180_000);

  test("every runnable command of the tree was exercised above", () => {
    const missing = runnablePaths().filter((p) => !seen.has(p));
    expect(missing).toEqual([]);
  });

  test("errors print the error document, with the exit code inside", () => {
    const cases: [string[], number, string, string][] = [
      [["index", "nope"], 2, "usage", "unknown_volume"],
      [["index", "photos", "--shalow"], 2, "usage", "unknown_flag"],
      [["indx"], 2, "usage", "unknown_command"],
      [["offload", "photos"], 2, "usage", "no_selector"],
    ];
    for (const [args, code, kind, ecode] of cases) {
      const r = w.hoard(...args, "--json");
      expect(r.code).toBe(code);
      const doc = oneDocument(r, args.join(" "));
      expect(Object.keys(doc)).toEqual(["ok", "error"]);
      expect(Object.keys(doc.error)).toEqual(["code", "kind", "message", "hint", "exit_code", "details"]);
      expect(doc).toMatchObject({ ok: false, error: { code: ecode, kind, exit_code: code } });
      expect(r.stderr).toContain("error: "); // the human line still goes to stderr
    }
    const v = w.hoard("--version", "--json");
    expect(oneDocument(v, "--version")).toEqual({ version: expect.any(String) });
  }, 180_000);

  test("docs/json.md documents every runnable command", () => {
    const doc = readFileSync(join(ROOT, "docs/json.md"), "utf8");
    const headings = new Set<string>();
    for (const line of doc.split("\n").filter((l) => /^#{2,3} /.test(l)))
      for (const m of line.matchAll(/`hoard ([^`]+)`/g)) {
        const words: string[] = [];
        for (const w of m[1]!.split(" ")) if (/^[a-z][a-z-]*$/.test(w)) words.push(w); else break;
        headings.add(words.join(" "));
      }
    const undocumented = runnablePaths().filter((p) => p && !headings.has(p));
    expect(undocumented).toEqual([]);
  });
});
