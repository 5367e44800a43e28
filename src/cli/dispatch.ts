// The command-line runner: finds the subcommand, rejects unknown flags (with a suggestion), parses
// with citty, prints one result (JSON or human), and maps every outcome to an exit code in one place.

import { parseArgs, renderUsage, type ArgsDef, type CommandDef } from "citty";
import { EXIT, exitCodeOf, HoardError, usageError, type ExitCode } from "../kernel/errors.ts";
import { setVerbose, toJson } from "./output.ts";
import { clearProgress } from "./progress.ts";
import { outputStarted } from "./signals.ts";
import { writeJsonWith, type Spool } from "./spool.ts";
import type { HoardArgs, RestSpec } from "./args.ts";

export interface CmdResult {
  data: unknown;
  human?: string;
  /** Terminal status of the work: success 0, partial 4, failed 1, refused 3. */
  status?: "success" | "partial" | "failed" | "refused" | "dry-run" | string;
  exit?: ExitCode;
  /** With --json: a list printed as data[key], streamed from a spool (too long to hold in memory). */
  jsonList?: { key: string; spool: Spool };
}

export const GLOBAL_ARGS = {
  config: { type: "string", description: "config file (default $HOARD_CONFIG, else $XDG_CONFIG_HOME/hoard/config.toml)", valueHint: "FILE", complete: "file" },
  db: { type: "string", description: "database file (default $HOARD_DB, else config db, else $XDG_DATA_HOME/hoard/hoard.db)", valueHint: "FILE", complete: "file" },
  json: { type: "boolean", description: "print exactly one JSON document on stdout" },
  quiet: { type: "boolean", alias: "q", description: "only warnings and errors on stderr; no human summary" },
  verbose: { type: "boolean", alias: "v", description: "more detail on stderr (debug messages); `hoard -v` alone prints the version" },
} as const satisfies HoardArgs;

/** A citty command whose run returns a CmdResult; `rest` declares words beyond its positionals. */
export type Command = CommandDef<any> & { run?: (ctx: { args: any; rawArgs: string[] }) => Promise<CmdResult>; rest?: RestSpec };

const resolveSync = <T>(x: any): T => (typeof x === "function" ? x() : x);

function argNames(def: ArgsDef): Map<string, { type: string }> {
  const m = new Map<string, { type: string }>();
  for (const [k, a] of Object.entries(def)) {
    if (a.type === "positional") continue;
    const t = { type: a.type ?? "string" };
    m.set(k, t);
    const kebab = k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());
    m.set(kebab, t);
    for (const al of ([] as string[]).concat((a as any).alias ?? [])) m.set(al, t);
  }
  return m;
}

function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length]![b.length]!;
}
export function suggest(word: string, options: string[]): string | undefined {
  let best: string | undefined;
  let bd = Infinity;
  for (const o of options) {
    const dd = distance(word, o);
    if (dd < bd) (bd = dd), (best = o);
  }
  return best !== undefined && bd <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** Reject flags the command does not declare; returns nothing or throws a usage error (exit 2). */
export function checkFlags(tokens: string[], def: ArgsDef, cmdName: string): void {
  const known = argNames(def);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t === "--") break;
    if (!t.startsWith("-") || t === "-") continue;
    const long = t.startsWith("--");
    let name = (long ? t.slice(2) : t.slice(1)).split("=")[0]!;
    if (!long && name.length > 1) {
      // -abc: every letter must be a known short boolean
      for (const ch of name) if (!known.has(ch)) throw unknownFlag(`-${ch}`, known, cmdName);
      continue;
    }
    let a = known.get(name);
    if (!a && long && name.startsWith("no-") && known.get(name.slice(3))?.type === "boolean") a = known.get(name.slice(3));
    if (!a) throw unknownFlag(t.split("=")[0]!, known, cmdName);
    if (a.type !== "boolean" && !t.includes("=")) {
      if (i + 1 >= tokens.length) throw usageError("missing_value", `${t} needs a value`, `see \`hoard ${cmdName} --help\``);
      i++;
    }
  }
}
function unknownFlag(flag: string, known: Map<string, unknown>, cmdName: string): HoardError {
  const opts = [...known.keys()].filter((k) => !/[A-Z]/.test(k)).map((k) => (k.length === 1 ? `-${k}` : `--${k}`)); // suggest --dry-run, not --dryRun
  const s = suggest(flag, opts);
  return usageError("unknown_flag", `unknown option ${flag} for \`hoard ${cmdName}\``, s ? `did you mean ${s}? (see \`hoard ${cmdName} --help\`)` : `see \`hoard ${cmdName} --help\``);
}

export interface Resolved {
  path: string[];
  cmd: Command;
  parent?: Command;
  rest: string[];
}

/** Walk argv to the leaf command; global flags may appear before the subcommand names. */
export function resolveCommand(root: Command, argv: string[]): Resolved {
  const globals = argNames(GLOBAL_ARGS);
  let cmd = root;
  let parent: Command | undefined;
  const path: string[] = [];
  const rest: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const t = argv[i]!;
    const subs = resolveSync<Record<string, Command> | undefined>(cmd.subCommands);
    if (t.startsWith("-")) {
      rest.push(t);
      const name = t.replace(/^-+/, "").split("=")[0]!;
      if (globals.get(name)?.type === "string" && !t.includes("=") && i + 1 < argv.length) rest.push(argv[++i]!);
      continue;
    }
    if (subs && t in subs) {
      parent = cmd;
      cmd = subs[t]!;
      path.push(t);
      continue;
    }
    if (subs && !cmd.run) {
      const s = suggest(t, Object.keys(subs));
      throw usageError("unknown_command", `unknown command \`${[...path, t].join(" ")}\``, s ? `did you mean \`hoard ${[...path, s].join(" ")}\`?` : `see \`hoard ${path.join(" ")} --help\``.replace("  ", " "));
    }
    break;
  }
  rest.push(...argv.slice(i));
  return { path, cmd, parent, rest };
}

export async function usageOf(cmd: Command, parent?: Command): Promise<string> {
  // flags are shown kebab-case (--dry-run), as typed; camelCase stays accepted when parsing
  const all: ArgsDef = { ...(resolveSync<ArgsDef>(cmd.args) ?? {}), ...GLOBAL_ARGS };
  const shown = Object.entries(all).map(([k, a]) =>
    a.type === "positional" || !/[A-Z]/.test(k) ? [k, a] : [k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase()), { ...a, valueHint: (a as any).valueHint ?? (a.type === "boolean" ? undefined : k.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase())) }],
  );
  const withGlobals: Command = { ...cmd, args: Object.fromEntries(shown) };
  let text = await renderUsage(withGlobals as CommandDef<any>, parent as CommandDef<any> | undefined);
  // variadic commands name their extra words (citty knows only the declared positionals)
  const more = cmd.rest?.hint;
  if (more) text = text.replace(/^(.*USAGE.*?)(\x1b\[[0-9;]*m)?$/m, (_, line: string, reset = "") => `${line}${reset} ${more}`);
  const colour = !process.env.NO_COLOR && !!process.stdout.isTTY && process.env.TERM !== "dumb";
  return colour ? text : text.replace(/\x1b\[[0-9;]*m/g, "").replace(/[ \t]+$/gm, "");
}

const statusExit = (s: string | undefined): ExitCode =>
  s === "partial" ? EXIT.partial : s === "failed" ? EXIT.failure : s === "refused" ? EXIT.refused : EXIT.ok;

/** Run the CLI; returns the exit code (the caller exits). */
export async function runCli(root: Command, argv: string[], version: string): Promise<number> {
  const wantsJson = argv.includes("--json");
  try {
    const r = resolveCommand(root, argv);
    // `hoard -v` alone prints the version (before a command, -v is --verbose)
    if (r.path.length === 0 && (r.rest.includes("--version") || r.rest.includes("-v"))) {
      process.stdout.write(wantsJson ? toJson({ version }) + "\n" : `hoard ${version}\n`);
      return 0;
    }
    const name = r.path.join(" ") || "hoard";
    if (r.rest.includes("--help") || r.rest.includes("-h") || !r.cmd.run) {
      if (!r.cmd.run && !r.rest.includes("--help") && !r.rest.includes("-h") && r.path.length === 0 && r.rest.length) throw usageError("unknown_command", `unknown command ${r.rest[0]}`, "see `hoard --help`");
      process.stdout.write((await usageOf(r.cmd, r.parent)) + "\n");
      return r.cmd.run || r.rest.includes("--help") || r.rest.includes("-h") ? 0 : EXIT.usage;
    }
    const def: ArgsDef = { ...(resolveSync<ArgsDef>(r.cmd.args) ?? {}), ...GLOBAL_ARGS };
    checkFlags(r.rest, def, name);
    let args: ReturnType<typeof parseArgs>;
    try {
      args = parseArgs(r.rest, def);
    } catch (e: any) {
      // citty's own argument errors (e.g. a missing positional) are usage errors: exit 2
      if (e?.code === "EARG") throw usageError("missing_argument", `${e.message} for \`hoard ${name}\``, `see \`hoard ${name} --help\``);
      throw e;
    }
    for (const [k, a] of Object.entries(def))
      if (a.type === "positional" && a.required !== false && (args as any)[k] === undefined && !(a as any).default)
        throw usageError("missing_argument", `missing argument ${k.toUpperCase()} for \`hoard ${name}\``, `see \`hoard ${name} --help\``);
    const positionals = Object.entries(def).filter(([, a]) => a.type === "positional").length;
    if (!r.cmd.rest && args._.length > positionals) throw usageError("extra_argument", `unexpected argument ${JSON.stringify(args._[positionals])} for \`hoard ${name}\``, `see \`hoard ${name} --help\``);
    setVerbose(!!args.verbose);
    const res = await r.cmd.run({ args, rawArgs: r.rest });
    clearProgress(); // the summary starts on a line of its own
    outputStarted();
    if (args.json && res.jsonList) writeJsonWith(res.data as Record<string, unknown>, res.jsonList.key, res.jsonList.spool, (s) => void process.stdout.write(s));
    else if (args.json) process.stdout.write(toJson(res.data) + "\n");
    else if (res.human !== undefined && (!args.quiet || res.status === undefined)) process.stdout.write(res.human.endsWith("\n") || res.human === "" ? res.human : res.human + "\n");
    return res.exit ?? statusExit(res.status);
  } catch (e) {
    const code = exitCodeOf(e);
    clearProgress();
    outputStarted();
    const he = e instanceof HoardError ? e : undefined;
    const message = (e as Error)?.message ?? String(e);
    if (wantsJson)
      process.stdout.write(toJson({ ok: false, error: { code: he?.code ?? "internal", kind: he?.kind ?? "failure", message, hint: he?.hint ?? null, exit_code: code, details: he?.details ?? null } }) + "\n");
    const red = !process.env.NO_COLOR && !!process.stderr.isTTY && process.env.TERM !== "dumb"; // stderr's own terminal, not stdout's
    process.stderr.write(`${red ? "\x1b[31merror\x1b[0m" : "error"}: ${message}\n${he?.hint ? `  next: ${he.hint}\n` : ""}`);
    if (!he && (process.env.HOARD_DEBUG || argv.includes("-v") || argv.includes("--verbose"))) process.stderr.write(String((e as Error)?.stack) + "\n");
    return code;
  }
}
