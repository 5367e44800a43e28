// Scripting hoard: colour only on a terminal and never with NO_COLOR or TERM=dumb, nothing but
// results on stdout, --quiet, and unknown flags rejected with exit 2 and a suggestion.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fsWorld, hoardCommand, type World } from "../helpers.ts";

let w: World;
beforeAll(() => {
  w = fsWorld();
});
afterAll(() => w.cleanup());

const SGR = /\x1b\[[0-9;]*m/; // a colour / style sequence
const hasScript = spawnSync("sh", ["-c", "command -v script"]).status === 0;
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Run hoard on a pseudo-terminal (util-linux script); returns what the terminal showed. */
function onTty(args: string[], env: Record<string, string | undefined>, redirect = ""): string {
  const cmd = [...hoardCommand(), "--config", w.config, "--db", w.db, ...args].map(q).join(" ") + redirect;
  const e: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...w.env, TERM: "xterm-256color", ...env })) if (v !== undefined) e[k] = v;
  const r = spawnSync("script", ["-qec", cmd, "/dev/null"], { env: e, encoding: "utf8", timeout: 60_000 });
  return r.stdout;
}

describe("colour and terminals", () => {
  test.skipIf(!hasScript)("on a terminal the error label is coloured; NO_COLOR and TERM=dumb turn colour off", () => {
    expect(onTty(["indx"], { NO_COLOR: undefined })).toMatch(SGR);
    const plain = onTty(["indx"], { NO_COLOR: "1" });
    expect(plain).toContain("error: unknown command `indx`");
    expect(plain).not.toMatch(SGR);
    expect(onTty(["indx"], { NO_COLOR: undefined, TERM: "dumb" })).not.toMatch(SGR);
    expect(onTty(["--help"], { NO_COLOR: "1" })).not.toMatch(SGR);
  }, 180_000);

  test.skipIf(!hasScript)("stderr redirected to a file gets no colour even when stdout is a terminal", () => {
    const file = w.path("stderr.txt");
    onTty(["indx"], { NO_COLOR: undefined }, ` 2>${q(file)}`);
    const text = readFileSync(file, "utf8");
    expect(text).toContain("error: unknown command");
    expect(text).not.toContain("\x1b");
  }, 180_000);

  test.skipIf(!hasScript)("progress is drawn only on a real terminal, not with TERM=dumb", () => {
    const big = "x".repeat(1 << 20);
    for (let i = 0; i < 20; i++) w.write(`vol/many/f${i}.bin`, big + i);
    const tty = onTty(["index", "photos"], { NO_COLOR: "1" });
    expect(tty).toContain("\x1b[K"); // progress line (cursor control, not colour: NO_COLOR keeps it)
    expect(tty).not.toMatch(SGR);
    const dumb = onTty(["index", "photos"], { NO_COLOR: undefined, TERM: "dumb" });
    expect(dumb).toContain("index photos");
    expect(dumb).not.toContain("\x1b");
  }, 180_000);

  test("through pipes: no escape sequence at all, logs on stderr, results on stdout", () => {
    const env = { ...w.env };
    delete (env as any).NO_COLOR;
    const r = spawnSync(hoardCommand()[0]!, [...hoardCommand().slice(1), "--config", w.config, "--db", w.db, "index", "photos"], { env, encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("index photos");
    expect(r.stdout + r.stderr).not.toContain("\x1b");
    const bad = spawnSync(hoardCommand()[0]!, [...hoardCommand().slice(1), "--config", w.config, "--db", w.db, "indx"], { env, encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).not.toContain("\x1b");
  }, 180_000);
});

describe("--quiet", () => {
  test("work commands print nothing on success; --json still prints the document", () => {
    for (const args of [["index", "photos"], ["sync", "photos"], ["offload", "photos", "a.txt"], ["restore", "photos"]]) {
      const r = w.hoard(...args, "--quiet");
      expect({ args, code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({ args, code: 0, stdout: "", stderr: "" });
    }
    const j = w.hoard("index", "photos", "-q", "--json");
    expect(j.code).toBe(0);
    expect(j.json.volume).toBe("photos");
  }, 180_000);

  test("errors still reach stderr with the exit code", () => {
    const r = w.hoard("offload", "photos", "--quiet");
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("offload needs a selector");
  });
});

describe("unknown flags", () => {
  const cases: [string[], string, string | null][] = [
    [["index", "photos", "--shalow"], "--shalow", "--shallow"],
    [["sync", "photos", "--dryrun"], "--dryrun", "--dry-run"],
    [["status", "--jsn"], "--jsn", "--json"],
    [["offload", "photos", ".", "--older-then", "3d"], "--older-then", "--older-than"],
    [["restore", "photos", "--form", "nas"], "--form", "--from"],
    [["dest", "init", "nas", "--yes"], "--yes", null],
    [["volumes", "-x"], "-x", null],
    [["runs", "--lmit", "3"], "--lmit", "--limit"],
    [["completion", "bash", "--zsh"], "--zsh", null],
  ];
  for (const [args, flag, hint] of cases)
    test(`hoard ${args.join(" ")}: exit 2${hint ? `, did you mean ${hint}?` : ""}`, () => {
      const r = w.hoard(...args);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(`unknown option ${flag}`);
      if (hint) expect(r.stderr).toContain(`did you mean ${hint}?`);
      const j = w.hoard(...args, "--json");
      expect(j.code).toBe(2);
      expect(j.json).toMatchObject({ ok: false, error: { code: "unknown_flag", kind: "usage", exit_code: 2 } });
    }, 180_000);

  test("--no-FLAG of a boolean is accepted, of a string flag it is not", () => {
    expect(w.hoard("index", "photos", "--no-shallow").code).toBe(0);
    expect(w.hoard("runs", "--no-limit").code).toBe(2);
  }, 180_000);
});
