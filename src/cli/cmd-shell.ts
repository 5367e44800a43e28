// The shell feature: `hoard completion bash|zsh|fish` prints a completion script generated from the
// command tree it is handed; `completion names` and `completion paths` feed it names and volume-relative
// paths (offloaded files too) from the index.

import { realpathSync } from "node:fs";
import { isAbsolute, relative } from "node:path";
import { parse as parseToml } from "smol-toml";
import type { Command } from "./dispatch.ts";
import { withReadApp } from "./app.ts";
import { command } from "./define.ts";
import { commandModel } from "./completion-model.ts";
import { bashScript, zshScript } from "./completion-sh.ts";
import { fishScript } from "./completion-fish.ts";
import { readConfigText, resolveConfigPath } from "../config/paths.ts";
import { usageError } from "../kernel/errors.ts";
import { liveFiles } from "../kernel/files.ts";

/** Volume or destination names from the config file, without validating it (completion must never fail loudly). */
function namesFromConfig(configFlag: string | undefined, what: "volumes" | "destinations"): string[] {
  try {
    const text = readConfigText(resolveConfigPath(configFlag));
    if (!text) return [];
    const raw = parseToml(text) as Record<string, unknown>;
    const t = raw[what];
    return t && typeof t === "object" && !Array.isArray(t) ? Object.keys(t).sort() : [];
  } catch {
    return [];
  }
}

const names = command({
  name: "names",
  description: "print the volume or destination names of the config, one per line (used by the completion scripts)",
  args: { what: { type: "positional", required: true, description: "volumes or destinations", complete: "values:volumes|destinations" } },
  async run(args) {
    const what = String(args.what);
    if (what !== "volumes" && what !== "destinations")
      throw usageError("bad_argument", `completion names takes volumes or destinations, not ${JSON.stringify(what)}`);
    const list = namesFromConfig(args.config, what);
    return { data: { [what]: list }, human: list.join("\n") };
  },
});

/**
 * Completion candidates for the word `word` among a volume's indexed paths, the way selectors are
 * resolved: relative to cwd when it is inside the volume (only what lies below it), to the root
 * otherwise; an absolute word inside the volume stays absolute. One level at a time: a directory
 * is offered as "dir/" (pure).
 */
export function pathCandidates(paths: readonly string[], root: string, cwd: string, word: string): string[] {
  const under = (r: string, c: string) => {
    const rel = relative(r, c);
    return rel === "" ? "" : rel === ".." || rel.startsWith("../") || isAbsolute(rel) ? undefined : rel;
  };
  let prefix = ""; // what the shown form puts before a volume-relative path
  let base: string | undefined = ""; // the volume-relative directory the shown form starts from
  if (isAbsolute(word)) {
    const w = word.endsWith("/") ? word.slice(0, -1) : word;
    if (under(root, w) === undefined && under(root, word + "x") === undefined) return [];
    prefix = root.endsWith("/") ? root : root + "/";
  } else base = under(root, cwd);
  const out = new Set<string>();
  for (const p of paths) {
    let shown: string;
    if (base === undefined || base === "") shown = prefix + p;
    else if (p.startsWith(base + "/")) shown = p.slice(base.length + 1);
    else continue;
    if (!shown.startsWith(word)) continue;
    const slash = shown.indexOf("/", word.length);
    out.add(slash >= 0 ? shown.slice(0, slash + 1) : shown);
  }
  return [...out].sort();
}

const paths = command({
  name: "paths",
  description: "print the paths of a volume's index (present and offloaded) that complete WORD, one per line (used by the completion scripts)",
  args: {
    volume: { type: "positional", required: true, description: "volume", complete: "volume" },
    word: { type: "positional", required: false, description: "the word being completed" },
  },
  async run(args) {
    let list: string[] = [];
    try {
      await withReadApp({ ...args, quiet: true }, async (app) => {
        const vol = app.config.volumes[String(args.volume)];
        if (vol) {
          const rows = liveFiles(app.ctx.db, vol.name).filter((f) => f.status === "present" || f.status === "offloaded");
          let root = vol.path;
          try {
            root = realpathSync(vol.path);
          } catch {}
          let cwd = process.cwd();
          try {
            cwd = realpathSync(cwd);
          } catch {}
          list = pathCandidates(rows.map((f) => f.path), root, cwd, String(args.word ?? ""));
          if (!list.length && root !== vol.path) list = pathCandidates(rows.map((f) => f.path), vol.path, process.cwd(), String(args.word ?? ""));
        }
        return { data: null };
      });
    } catch {
      list = []; // completion never fails loudly
    }
    return { data: { paths: list }, human: list.join("\n") };
  },
});

/** The completion commands; `tree` is the command tree the scripts complete (this one's root). */
export function shellCommands(tree: () => Command): Record<string, Command> {
  const completion = command({
    name: "completion",
    description: "print a shell completion script: hoard completion bash|zsh|fish",
    args: { shell: { type: "positional", required: true, description: "bash, zsh or fish", complete: "values:bash|zsh|fish" } },
    subCommands: { names, paths },
    async run(args) {
      const shell = String(args.shell);
      const gen = { bash: bashScript, zsh: zshScript, fish: fishScript }[shell];
      if (!gen) throw usageError("unknown_shell", `no completion for shell ${JSON.stringify(shell)}`, "use bash, zsh or fish");
      const script = gen(commandModel(tree()));
      return { data: { shell, script }, human: script };
    },
  });
  return { completion };
}
