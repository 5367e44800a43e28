// Declaring a command in one call (name, description, arguments with their completion metadata, rest
// of words, subcommands, body), and the argument readers citty lacks (repeated options, ids).

import type { CmdResult, Command } from "./dispatch.ts";
import type { HoardArgs, RestSpec } from "./args.ts";
import { withApp, withReadApp, type App, type GlobalArgs, type OpenOptions } from "./app.ts";
import { usageError } from "../kernel/errors.ts";

/** Parsed arguments: the global flags and the command's own (citty's shape). */
export type Args = GlobalArgs & Record<string, any>;

interface Spec {
  name: string;
  /** The root command only: what `hoard --version` and its help show. */
  version?: string;
  description: string;
  args?: HoardArgs;
  /** Words beyond the declared positionals (PATH…), with how help names them and what completes them. */
  rest?: RestSpec;
  subCommands?: Record<string, Command>;
}

type Body<T> = (app: App, args: Args, rawArgs: string[]) => Promise<T> | T;

/** A command whose body gets the parsed arguments (without a body: a group of subcommands). */
export function command(spec: Spec & { run?: (args: Args, rawArgs: string[]) => Promise<CmdResult> }): Command {
  const cmd: Command = { meta: spec.version === undefined ? { name: spec.name, description: spec.description } : { name: spec.name, version: spec.version, description: spec.description } };
  if (spec.args) cmd.args = spec.args;
  if (spec.subCommands) cmd.subCommands = spec.subCommands;
  if (spec.rest) cmd.rest = spec.rest;
  const run = spec.run;
  if (run) cmd.run = ({ args, rawArgs }) => run(args, rawArgs);
  return cmd;
}

/** A command that opens the app (see withApp), runs its body, and always closes it. */
export function appCommand(spec: Spec & { open?: (args: Args) => OpenOptions; run: Body<CmdResult> }): Command {
  const { run, open, ...rest } = spec;
  return command({ ...rest, run: (args, rawArgs) => withApp(args, async (app) => run(app, args, rawArgs), open?.(args)) });
}

/** A read-only command (see withReadApp: it never creates a config or a database). */
export function readCommand(spec: Spec & { run: Body<CmdResult> }): Command {
  const { run, ...rest } = spec;
  return command({ ...rest, run: (args, rawArgs) => withReadApp(args, async (app) => run(app, args, rawArgs)) });
}

/** Every value of a repeated `--NAME V` / `--NAME=V` option (citty keeps only the last), commas split too (unless `split` is false). */
export function repeated(raw: string[], name: string, split = true): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    const t = raw[i]!;
    if (t === "--") break;
    if (t === `--${name}` && i + 1 < raw.length) out.push(raw[++i]!);
    else if (t.startsWith(`--${name}=`)) out.push(t.slice(name.length + 3));
  }
  return split ? out.flatMap((x) => x.split(",")).map((x) => x.trim()).filter(Boolean) : out;
}

/** A run id argument, or a usage error. */
export function parseId(s: string): bigint {
  if (!/^\d+$/.test(String(s))) throw usageError("bad_id", `${JSON.stringify(s)} is not a run id`);
  return BigInt(s);
}

/** The words after the volume positional (selectors, KEY=VALUE…), as strings. */
export const restWords = (args: Args): string[] => (args._ as string[]).slice(1).map(String);
