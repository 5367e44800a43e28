// `hoard completion bash|zsh|fish`: the scripts are generated from the real command tree, are valid
// in their shells, and complete commands, flags, flag values, volume/destination names and, for PATH…
// arguments, the volume's indexed paths (offloaded files too) relative to where selectors resolve.

import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { fsWorld, hoardCommand, type World } from "../helpers.ts";
import { commandTree } from "../../src/cli/commands.ts";
import type { Command } from "../../src/cli/dispatch.ts";

let w: World;
let binDir: string;
const scripts: Record<string, string> = {};
const has = (sh: string) => spawnSync("sh", ["-c", `command -v ${sh}`]).status === 0;

beforeAll(() => {
  w = fsWorld({ extraDests: ["cloud"] });
  // the scripts call `hoard` (the word typed) for names: put this hoard on PATH under that name
  binDir = w.path("bin");
  mkdirSync(binDir, { recursive: true });
  writeFileSync(join(binDir, "hoard"), `#!/bin/sh\nexec ${hoardCommand().map((a) => JSON.stringify(a)).join(" ")} "$@"\n`);
  chmodSync(join(binDir, "hoard"), 0o755);
  w.env.PATH = `${binDir}:${process.env.PATH}`;
  // an index, a sync and one offloaded file (dir/sub/c.bin is then only in the index, not on disk)
  for (const a of [["index", "photos"], ["sync", "photos"], ["offload", "photos", "dir/sub"]]) expect(w.hoard(...a).code).toBe(0);
  for (const sh of ["bash", "zsh", "fish"]) {
    const r = w.hoard("completion", sh);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    scripts[sh] = w.write(`completion.${sh}`, r.stdout);
  }
});
afterAll(() => w.cleanup());

const run = (sh: string, code: string, cwd?: string) => spawnSync(sh, ["-c", code], { env: w.env, encoding: "utf8", timeout: 60_000, cwd });

/** What bash completes for a command line ending in the word being completed (COMP_WORDS as bash splits them). */
function bash(...words: string[]): string[] {
  return bashIn(undefined, ...words);
}
function bashIn(cwd: string | undefined, ...words: string[]): string[] {
  const r = run("bash", `source ${JSON.stringify(scripts.bash)}; COMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _hoard; printf '%s\\n' "\${COMPREPLY[@]}"`.replace('"$@"', words.map((x) => JSON.stringify(x)).join(" ")), cwd);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return r.stdout.split("\n").filter(Boolean);
}

/** Every command path of the tree and its own flags, derived here independently of cmd-shell.ts. */
function treeCommands(): { path: string; flags: string[]; subs: string[] }[] {
  const out: { path: string; flags: string[]; subs: string[] }[] = [];
  const walk = (c: Command, path: string[]) => {
    const subs = Object.keys((c.subCommands as Record<string, Command>) ?? {});
    const args = c.run ? ((c.args as Record<string, { type?: string }>) ?? {}) : {};
    const flags = Object.entries(args).filter(([, a]) => a.type !== "positional").map(([k]) => "--" + k.replace(/[A-Z]/g, (x) => "-" + x.toLowerCase()));
    out.push({ path: path.join(" "), flags, subs });
    for (const s of subs) walk((c.subCommands as Record<string, Command>)[s]!, [...path, s]);
  };
  walk(commandTree("0"), []);
  return out;
}

describe("completion scripts", () => {
  test("an unknown shell is a usage error (exit 2)", () => {
    const r = w.hoard("completion", "tcsh");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("use bash, zsh or fish");
    expect(w.hoard("completion").code).toBe(2);
  }, 180_000);

  test("--json wraps the script in one document", () => {
    const r = w.hoard("completion", "bash", "--json");
    expect(r.code).toBe(0);
    expect(r.json.shell).toBe("bash");
    expect(r.json.script).toContain("complete -F _hoard hoard");
  });

  test("bash: every command and every flag of the tree is completed", () => {
    const cmds = treeCommands();
    expect(cmds.length).toBeGreaterThan(15);
    for (const c of cmds) {
      const words = ["hoard", ...(c.path ? c.path.split(" ") : [])];
      const flags = bash(...words, "-");
      for (const f of [...c.flags, "--json", "--quiet", "--config", "--db", "--help"]) expect({ path: c.path, has: f, ok: flags.includes(f) }).toEqual({ path: c.path, has: f, ok: true });
      if (c.subs.length) expect(bash(...words, "").filter((x) => c.subs.includes(x)).sort()).toEqual([...c.subs].sort());
    }
  }, 180_000);

  test("bash: prefixes, subcommands after global flags, names from the config, files and directories", () => {
    expect(bash("hoard", "dest", "i")).toEqual(["init"]);
    expect(bash("hoard", "--json", "ind")).toEqual(["index"]);
    expect(bash("hoard", "index", "--s")).toEqual(["--shallow"]);
    expect(bash("hoard", "--config", w.config, "index", "")).toEqual(["photos"]);
    expect(bash("hoard", "--config", w.config, "sync", "photos", "--to", "").sort()).toEqual(["cloud", "nas"]);
    expect(bash("hoard", "--config", "=", w.config, "verify", "").sort()).toEqual(["cloud", "nas"]); // bash splits --config=FILE
    expect(bash("hoard", "--config", w.config, "dest", "init", "c")).toEqual(["cloud"]);
    expect(bash("hoard", "completion", "").sort()).toEqual(["bash", "fish", "names", "paths", "zsh"]);
    expect(bash("hoard", "--db", w.path("con"))).toEqual([w.config]);
    expect(bash("hoard", "--config", w.config, "restore", "photos", "--to", w.path("vo"))).toEqual([w.path("vol")]);
    expect(bash("hoard", "--config", w.config, "--db", w.db, "offload", "photos", w.path("vol/di"))).toEqual([w.path("vol/dir/")]);
    // a config that does not parse: no names, no noise
    expect(bash("hoard", "--config", w.path("completion.bash"), "index", "")).toEqual([]);
  }, 180_000);

  test("completion names lists the config's volumes and destinations", () => {
    expect(w.hoard("completion", "names", "volumes").stdout).toBe("photos\n");
    expect(w.hoard("completion", "names", "destinations", "--json").json).toEqual({ destinations: ["cloud", "nas"] });
    expect(w.hoard("completion", "names", "files").code).toBe(2);
  }, 180_000);

  test.skipIf(!has("zsh"))("zsh: the script loads under compinit and its widget offers the right candidates", () => {
    const stub = `autoload -U compinit; compinit -u -D; source ${JSON.stringify(scripts.zsh)}
print -r -- "compdef:$_comps[hoard]"
_describe() { local n=\${@[-1]}; print -rl -- "\${(@P)n}" }
_files() { print -r -- "FILES $*" }
t() { words=("$@"); CURRENT=$#; _hoard; print -- --- }
t hoard dest ''
t hoard --config ${JSON.stringify(w.config)} sync photos --to ''
t hoard index --sh
t hoard --db ''`;
    const r = run("zsh", stub);
    expect(r.status).toBe(0);
    const parts = r.stdout.split("---\n");
    expect(parts[0]).toContain("compdef:_hoard");
    expect(parts[0]).toContain("init:create the destination's identity");
    expect(parts[0]).toContain("reset:re-pin a destination");
    expect(parts[1]!.trim().split("\n").sort()).toEqual(["cloud:destination", "nas:destination"]);
    expect(parts[2]).toContain("--shallow:trust size+mtime");
    expect(parts[3]!.trim()).toBe("FILES");
  }, 180_000);

  test.skipIf(!has("fish"))("fish: complete -C gives commands with descriptions, flags, names and paths", () => {
    const c = (line: string) => {
      const r = run("fish", `source ${JSON.stringify(scripts.fish)}; complete -C ${JSON.stringify(line)}`);
      expect(r.stderr).toBe("");
      return r.stdout.split("\n").filter(Boolean);
    };
    expect(c("hoard dest i")).toEqual(["init\tcreate the destination's identity and pin it (the only command that creates destination state)"]);
    expect(c("hoard ").map((l) => l.split("\t")[0])).toEqual(expect.arrayContaining(["index", "sync", "offload", "restore", "completion"]));
    expect(c("hoard index --sh")).toEqual(["--shallow\ttrust size+mtime: hash only new or changed files"]);
    expect(c(`hoard --config ${w.config} sync photos --to `).sort()).toEqual(["cloud\tdestination", "nas\tdestination"]);
    expect(c(`hoard --config=${w.config} index `)).toEqual(["photos\tvolume"]);
    expect(c(`hoard restore photos --to ${w.path("vo")}`)[0]).toStartWith(w.path("vol/"));
    expect(c("hoard completion ").sort()).toEqual(["bash", "fish", "names\tprint the volume or destination names of the config, one per line (used by the completion scripts)", "paths\tprint the paths of a volume's index (present and offloaded) that complete WORD, one per line (used by the completion scripts)", "zsh"]);
  }, 180_000);

  describe("PATH… completes the volume's indexed paths", () => {
    const cw = () => ["hoard", "--config", w.config, "--db", w.db];

    test("completion paths: one level at a time, from the root outside the volume, from the current directory inside it", () => {
      const paths = (cwd: string | undefined, ...a: string[]) => {
        const r = spawnSync(hoardCommand()[0]!, [...hoardCommand().slice(1), "--config", w.config, "--db", w.db, "completion", "paths", "--", ...a], { env: w.env, encoding: "utf8", cwd });
        expect(r.status).toBe(0);
        return r.stdout.split("\n").filter(Boolean);
      };
      expect(paths(w.dir, "photos", "")).toEqual(["a.txt", "dir/"]);
      expect(paths(w.dir, "photos", "dir/")).toEqual(["dir/b.txt", "dir/sub/"]);
      expect(paths(w.dir, "photos", "dir/sub/")).toEqual(["dir/sub/c.bin"]); // offloaded: only the index knows it
      expect(paths(w.path("vol/dir"), "photos", "")).toEqual(["b.txt", "sub/"]);
      expect(paths(w.path("vol/dir/sub"), "photos", "c")).toEqual(["c.bin"]);
      expect(paths(w.dir, "photos", w.path("vol/dir/s"))).toEqual([w.path("vol/dir/sub/")]);
      expect(paths(w.dir, "photos", "/elsewhere/")).toEqual([]);
      // an unknown volume, a missing database: nothing, and no noise
      expect(paths(w.dir, "nope", "")).toEqual([]);
      const r = spawnSync(hoardCommand()[0]!, [...hoardCommand().slice(1), "--config", w.config, "--db", w.path("missing.db"), "completion", "paths", "photos", ""], { env: w.env, encoding: "utf8" });
      expect([r.status, r.stdout, r.stderr]).toEqual([0, "", ""]);
      expect(w.hoard("completion", "paths").code).toBe(2);
    }, 180_000);

    test("bash: offload and restore offer volume paths (a directory without a trailing space), ls too", () => {
      expect(bashIn(w.dir, ...cw(), "offload", "photos", "")).toEqual(["a.txt", "dir/"]);
      expect(bashIn(w.dir, ...cw(), "restore", "photos", "dir/s")).toEqual(["dir/sub/"]);
      expect(bashIn(w.dir, ...cw(), "restore", "photos", "dir/sub/")).toEqual(["dir/sub/c.bin"]);
      expect(bashIn(w.path("vol/dir"), ...cw(), "offload", "photos", "a.txt", "")).toEqual(["b.txt", "sub/"]);
      expect(bashIn(w.dir, ...cw(), "ls", "photos", "d")).toEqual(["dir/"]);
      // the VOLUME itself is still completed from the config's names
      expect(bashIn(w.dir, ...cw(), "offload", "")).toEqual(["photos"]);
    }, 180_000);

    test.skipIf(!has("zsh"))("zsh: volume paths through compadd, directories without a suffix", () => {
      const stub = `autoload -U compinit; compinit -u -D; source ${JSON.stringify(scripts.zsh)}
compadd() { print -r -- "ADD $*" }
_describe() { : }
t() { words=("$@"); CURRENT=$#; _hoard; print -- --- }
t ${cw().map((x) => JSON.stringify(x)).join(" ")} restore photos 'dir/'`;
      const r = run("zsh", stub, w.dir);
      expect(r.status).toBe(0);
      expect(r.stdout.split("---")[0]!.trim().split("\n").sort()).toEqual(["ADD -Q -- dir/b.txt", "ADD -Q -S  -- dir/sub/"]);
    }, 180_000);

    test.skipIf(!has("fish"))("fish: volume paths for offload and restore", () => {
      const r = run("fish", `source ${JSON.stringify(scripts.fish)}; complete -C ${JSON.stringify(`hoard --config ${w.config} --db ${w.db} restore photos dir/`)}`, w.dir);
      expect(r.stderr).toBe("");
      expect(r.stdout.split("\n").filter(Boolean).sort()).toEqual(["dir/b.txt", "dir/sub/"]);
    }, 180_000);
  });
});
