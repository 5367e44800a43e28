// Generates the README's CLI reference from the real command tree (`--help` of every command),
// so the reference cannot drift: `bun scripts/cli-reference.ts --write` updates README.md.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { commandTree } from "../src/cli/commands.ts";
import { usageOf, type Command } from "../src/cli/dispatch.ts";
import pkg from "../package.json" with { type: "json" };

const START = "<!-- cli-reference:start -->";
const END = "<!-- cli-reference:end -->";

async function walk(cmd: Command, path: string[], parent: Command | undefined, out: string[]) {
  const subs = (typeof cmd.subCommands === "function" ? (cmd.subCommands as any)() : cmd.subCommands) as Record<string, Command> | undefined;
  if (path.length) out.push(`### hoard ${path.join(" ")}\n\n\`\`\`\n${(await usageOf(cmd, parent)).trim()}\n\`\`\`\n`);
  for (const [name, sub] of Object.entries(subs ?? {})) await walk(sub, [...path, name], cmd, out);
}

export async function cliReference(): Promise<string> {
  process.env.NO_COLOR = "1";
  const out: string[] = [];
  await walk(commandTree(pkg.version), [], undefined, out);
  return out.join("\n");
}

export function readmeWith(readme: string, ref: string): string {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error("README.md has no cli-reference markers");
  return readme.slice(0, a + START.length) + "\n\n" + ref + "\n" + readme.slice(b);
}

if (import.meta.main) {
  const file = join(import.meta.dir, "..", "README.md");
  const readme = readFileSync(file, "utf8");
  const next = readmeWith(readme, await cliReference());
  if (process.argv.includes("--write")) writeFileSync(file, next);
  else if (next !== readme) {
    console.error("README.md's CLI reference is out of date: run `bun scripts/cli-reference.ts --write`");
    process.exit(1);
  }
}
