// `hoard demo`: builds a sample volume and a directory destination in a fresh directory with its
// own config and DB, then runs the real CLI through index → sync → offload → restore, printing each step;
// a temporary directory is removed afterwards unless --keep (or --dir, or a failed step, for inspection).

import { spawnSync } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import type { Command } from "./dispatch.ts";
import { command } from "./define.ts";
import { failure, usageError } from "../kernel/errors.ts";

/** How to start this very hoard again as a child process (source under Bun or Deno, or the compiled binary). */
export function selfCommand(): string[] {
  const here = import.meta.url;
  if (here.includes("$bunfs") || here.includes("~BUN")) return [process.execPath];
  const main = fileURLToPath(new URL("./main.ts", here));
  const deno = (globalThis as any).Deno;
  if (deno) return [deno.execPath(), "run", "-A", main];
  return [process.execPath, main];
}

const SAMPLE: Record<string, string | Uint8Array> = {
  "notes/todo.txt": "buy film\nback up the photos\n",
  "notes/ideas.md": "# ideas\n- a tool that deletes only what is provably safe\n",
  "photos/2019/beach.raw": randomBytes(256 * 1024),
  "photos/2019/forest.raw": randomBytes(192 * 1024),
  "photos/2020/city night.raw": randomBytes(128 * 1024),
  "music/track 01.flac": randomBytes(300 * 1024),
};

const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

export const demo = command({
  name: "demo",
  description: "run index → sync → offload → restore on a sample volume and a directory destination",
  args: {
    dir: { type: "string", description: "work in this (new or empty) directory instead of a temporary one (kept)", valueHint: "DIR", complete: "dir" },
    keep: { type: "boolean", description: "keep the temporary directory afterwards, to look around (it is removed otherwise)" },
  },
  async run(args) {
    let dir: string;
    if (args.dir) {
      dir = resolve(args.dir);
      if (existsSync(dir) && readdirSync(dir).length > 0) throw usageError("demo_dir_not_empty", `${dir} is not empty`, "give a new or empty directory, or omit --dir");
      mkdirSync(dir, { recursive: true });
    } else dir = mkdtempSync(join(tmpdir(), "hoard-demo-"));
    const config = join(dir, "config.toml");
    const db = join(dir, "hoard.db");
    const vol = join(dir, "volume");
    const nas = join(dir, "nas");
    for (const [rel, content] of Object.entries(SAMPLE)) {
      mkdirSync(join(vol, rel, ".."), { recursive: true });
      writeFileSync(join(vol, rel), content);
    }
    const self = selfCommand();
    const say = (s: string) => {
      if (!args.json) process.stdout.write(s + "\n");
    };
    const steps: { command: string; exit_code: number; expected: number; output: string }[] = [];
    const step = (expected: number, ...a: string[]) => {
      const shown = `hoard ${a.map(q).join(" ")}`;
      say(`\n$ ${shown}`);
      const r = spawnSync(self[0]!, [...self.slice(1), "--config", config, "--db", db, ...a], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
      const output = (r.stdout + r.stderr).trimEnd();
      say(output);
      const code = r.status ?? -1;
      steps.push({ command: shown, exit_code: code, expected, output });
      if (code !== expected) throw failure("demo_step_failed", `demo step \`${shown}\` exited ${code}, expected ${expected}`, `inspect ${dir}`, { steps });
    };
    say(`hoard demo in ${dir}\nsample volume: ${vol}\ndirectory destination: ${nas}`);
    step(0, "init", "--node", "demo");
    const extra = `\n[volumes.photos]\npath = ${JSON.stringify(vol)}\nsync_to = ["nas"]\noffload_requires = ["nas"]\n\n[destinations.nas]\ntype = "fs"\npath = ${JSON.stringify(nas)}\n`;
    appendFileSync(config, extra);
    say(`\n# appended to ${config}:${extra.replace(/\n/g, "\n#   ")}`);
    step(0, "volume", "add", "photos", vol);
    step(0, "index", "photos");
    step(3, "sync", "photos"); // refused: the destination is not initialised yet
    step(0, "dest", "init", "nas");
    step(0, "sync", "photos");
    step(0, "offload", "photos", ".", "--dry-run");
    step(0, "offload", "photos", "photos");
    step(0, "status", "photos");
    step(0, "restore", "photos");
    step(0, "index", "photos", "--shallow");
    // a temporary directory goes away unless asked to keep it; a --dir one was chosen by the user
    const kept = !!args.dir || !!args.keep;
    if (!kept) rmSync(dir, { recursive: true, force: true });
    say(`\ndemo finished: every step behaved as expected. ${kept ? `Files are in ${dir}` : `Removed ${dir} (hoard demo --keep keeps it)`}`);
    return { data: { dir, config, db, steps: steps.map(({ output, ...s }) => s), ok: true, kept }, human: "", status: "success" };
  },
});

export function demoCommands(): Record<string, Command> {
  return { demo };
}
