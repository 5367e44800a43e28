// The completion model: what the completion scripts know about the command tree (subcommands, flags,
// positionals and what completes each, read from the argument metadata), derived from the real tree.

import { GLOBAL_ARGS, type Command } from "./dispatch.ts";
import type { HoardArg, Kind } from "./args.ts";

export interface FlagSpec {
  name: string; // "--dry-run" or "-q"
  description: string;
  value?: Kind; // absent: a boolean flag
}
export interface NodeSpec {
  path: string; // "" for hoard itself, "dest init", …
  description: string;
  subs: { name: string; description: string }[];
  flags: FlagSpec[];
  positionals: Kind[];
  /** Kind of every further positional (offload/restore paths), if the command takes any. */
  rest?: Kind;
}

const resolveSync = <T>(x: unknown): T => (typeof x === "function" ? (x as () => T)() : (x as T));
const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());

/** A description on one line (the scripts hold one per line). */
export const oneLine = (s: string) => s.replace(/\s+/g, " ").trim();

/** Every command of the tree, depth first, with its subcommands, flags (own + global) and positionals. */
export function commandModel(root: Command): NodeSpec[] {
  const out: NodeSpec[] = [];
  const walk = (cmd: Command, path: string[]) => {
    const p = path.join(" ");
    const meta = resolveSync<{ description?: string } | undefined>(cmd.meta) ?? {};
    const subsDef = resolveSync<Record<string, Command> | undefined>(cmd.subCommands) ?? {};
    const own = cmd.run ? (resolveSync<Record<string, HoardArg> | undefined>(cmd.args) ?? {}) : {};
    const flags: FlagSpec[] = [];
    const positionals: Kind[] = [];
    for (const [k, a] of Object.entries<HoardArg>({ ...own, ...GLOBAL_ARGS })) {
      if (a.type === "positional") {
        positionals.push(a.complete ?? "none");
        continue;
      }
      const value = a.type === "boolean" ? undefined : (a.complete ?? "none");
      flags.push({ name: `--${kebab(k)}`, description: a.description ?? "", value });
      const aliases = "alias" in a ? ([] as string[]).concat(a.alias ?? []) : [];
      for (const al of aliases) flags.push({ name: al.length === 1 ? `-${al}` : `--${al}`, description: a.description ?? "", value });
    }
    flags.push({ name: "--help", description: "show help" }, { name: "-h", description: "show help" });
    if (path.length === 0) flags.push({ name: "--version", description: "print the version" });
    const subs = Object.entries(subsDef).map(([name, c]) => ({ name, description: resolveSync<{ description?: string } | undefined>(c.meta)?.description ?? "" }));
    out.push({ path: p, description: meta.description ?? "", subs, flags, positionals, rest: cmd.rest?.complete });
    for (const [name, c] of Object.entries(subsDef)) walk(c, [...path, name]);
  };
  walk(root, []);
  return out;
}
