// Editing config text without reformatting it (appending a [volumes.NAME] table, every existing
// byte kept), TOML string/key quoting, and atomic file writes (private 0600 when hoard creates them).

import { closeSync, fchmodSync, fsyncSync, openSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { isAbsolute } from "node:path";
import { parse as parseToml, TomlError } from "smol-toml";
import { configError } from "../kernel/errors.ts";
import { writeFileAtomicSync } from "../kernel/atomic.ts";
import { isTable } from "./issues.ts";
import { NAME_RE } from "./schema.ts";

const LONE_SURROGATE = /\p{Surrogate}/u;

/** A TOML basic string ("…") for any well-formed string: quotes, backslashes and control characters escaped. */
export function tomlString(s: string): string {
  if (LONE_SURROGATE.test(s)) throw new Error("string is not well-formed Unicode (lone surrogate); it cannot be written to TOML");
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (c < 0x20 || c === 0x7f) out += `\\u${c.toString(16).padStart(4, "0").toUpperCase()}`;
    else out += ch;
  }
  return out + '"';
}

/** A TOML key: bare when it can be (A-Z a-z 0-9 _ -), otherwise quoted (e.g. names containing "."). */
export function tomlKey(k: string): string {
  return /^[A-Za-z0-9_-]+$/.test(k) ? k : tomlString(k);
}

function parseOrThrow(text: string, what: string): Record<string, unknown> {
  try {
    return parseToml(text) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof TomlError) {
      const why = e.message.replace(/^Invalid TOML document:\s*/, "").split("\n")[0]!.trim();
      throw configError("config_syntax", `${what}: TOML syntax error at line ${e.line}, column ${e.column}: ${why}`, "fix the config file's syntax first", {
        line: e.line,
        column: e.column,
      });
    }
    throw e;
  }
}

/**
 * Append `[volumes.NAME]` with `path = "…"` to config text. Every existing byte is kept (comments,
 * order, blank lines); a line break is added if the text does not end with one, and a blank line
 * before the new table unless the text already ends with one. Throws a config error if the volume
 * already exists, the name or path is invalid, or the text cannot take the table (e.g. `volumes`
 * is an inline table).
 */
export function addVolumeToConfigText(text: string, name: string, path: string): string {
  if (!NAME_RE.test(name))
    throw configError("volume_name_invalid", `invalid volume name ${JSON.stringify(name)}`, "use 1-64 characters from a-z 0-9 . _ -, starting with a letter or digit");
  if (!isAbsolute(path)) throw configError("volume_path_relative", `volume path ${JSON.stringify(path)} must be an absolute path`);
  if (LONE_SURROGATE.test(path)) throw configError("volume_path_invalid", "volume path is not well-formed Unicode and cannot be written to TOML");

  const before = parseOrThrow(text.startsWith("\uFEFF") ? text.slice(1) : text, "the config file");
  if (isTable(before.volumes) && Object.hasOwn(before.volumes, name))
    throw configError("volume_exists", `volume ${JSON.stringify(name)} already exists in the config`, "pick another name, or edit the existing [volumes] table by hand");

  const eol = /\r?\n/.exec(text)?.[0] ?? "\n";
  let sep = "";
  if (text !== "") {
    if (!text.endsWith("\n")) sep += eol;
    const body = (text + sep).replace(/\r?\n$/, "");
    const lastLine = body.slice(body.lastIndexOf("\n") + 1);
    if (lastLine.trim() !== "") sep += eol;
  }
  const out = `${text}${sep}[volumes.${tomlKey(name)}]${eol}path = ${tomlString(path)}${eol}`;

  let after: Record<string, unknown> | undefined;
  try {
    after = parseToml(out.startsWith("\uFEFF") ? out.slice(1) : out) as Record<string, unknown>;
  } catch {
    after = undefined;
  }
  const added = after && isTable(after.volumes) ? after.volumes[name] : undefined;
  if (!isTable(added) || added.path !== path)
    throw configError(
      "config_edit_failed",
      `cannot append [volumes.${tomlKey(name)}] to the config automatically (the file defines volumes in a form a new table cannot extend)`,
      `add the volume by hand: [volumes.${tomlKey(name)}] with path = ${tomlString(path)}`,
    );
  return out;
}

/**
 * The TOML text of a `KEY=VALUE` value typed on the command line: a TOML literal when it is one
 * (true, 42, "quoted", ["a", "b"], { env = "VAR" }), otherwise the text as a string.
 */
export function tomlValueText(raw: string): string {
  if (/^\s*$/.test(raw)) return tomlString(raw);
  try {
    const v = (parseToml(`v = ${raw}`) as Record<string, unknown>).v;
    if (v !== undefined && !(v instanceof Date)) return raw.trim(); // dates stay strings (a path is never a date)
  } catch {
    // not a TOML literal: a plain string
  }
  return tomlString(raw);
}

/**
 * Append `[SECTION.NAME]` with `key = value` lines (values already TOML text) to config text, every
 * existing byte kept (the same separators as addVolumeToConfigText). Throws a config error when the
 * table exists already or when the text cannot take it (checked by parsing the result).
 */
export function appendTableToConfigText(text: string, section: "volumes" | "destinations", name: string, entries: readonly [string, string][]): string {
  if (!NAME_RE.test(name)) throw configError("name_invalid", `invalid name ${JSON.stringify(name)}`, "use 1-64 characters from a-z 0-9 . _ -, starting with a letter or digit");
  const before = parseOrThrow(text.startsWith("\uFEFF") ? text.slice(1) : text, "the config file");
  const singular = section === "volumes" ? "volume" : "destination";
  if (isTable(before[section]) && Object.hasOwn(before[section], name))
    throw configError(`${singular}_exists`, `${singular} ${JSON.stringify(name)} already exists in the config`, `pick another name, or remove it first`);
  const eol = /\r?\n/.exec(text)?.[0] ?? "\n";
  let sep = "";
  if (text !== "") {
    if (!text.endsWith("\n")) sep += eol;
    const body = (text + sep).replace(/\r?\n$/, "");
    if (body.slice(body.lastIndexOf("\n") + 1).trim() !== "") sep += eol;
  }
  const lines = entries.map(([k, v]) => `${tomlKey(k)} = ${v}${eol}`).join("");
  const out = `${text}${sep}[${section}.${tomlKey(name)}]${eol}${lines}`;
  let after: Record<string, unknown> | undefined;
  try {
    after = parseToml(out.startsWith("\uFEFF") ? out.slice(1) : out) as Record<string, unknown>;
  } catch (e) {
    throw configError("config_edit_failed", `cannot add [${section}.${tomlKey(name)}]: ${(e as Error).message.split("\n")[0]}`, "check the KEY=VALUE values (quote strings that look like other TOML values), or edit the config by hand");
  }
  const added = isTable(after[section]) ? after[section][name] : undefined;
  if (!isTable(added) || Object.keys(added).length !== entries.length)
    throw configError("config_edit_failed", `cannot append [${section}.${tomlKey(name)}] to the config automatically (the file defines ${section} in a form a new table cannot extend)`, `add the table by hand`);
  return out;
}

/** Parse a table header line's key path (`[a."b.c"]` → ["a", "b.c"]); undefined when the line is no table header. */
function headerPath(line: string): string[] | undefined {
  const m = /^\s*\[(?!\[)(.*)\]\s*(#.*)?$/.exec(line);
  if (!m) return undefined;
  const out: string[] = [];
  const re = /\s*(?:([A-Za-z0-9_-]+)|"((?:[^"\\]|\\.)*)"|'([^']*)')\s*(\.|$)/y;
  let rest = m[1]!;
  re.lastIndex = 0;
  while (re.lastIndex < rest.length) {
    const k = re.exec(rest);
    if (!k) return undefined;
    out.push(k[1] ?? (k[2] !== undefined ? (JSON.parse(`"${k[2]}"`) as string) : k[3]!));
    if (k[4] === "") break;
  }
  return out;
}

/**
 * Remove `[SECTION.NAME]` (and its sub-tables) from config text: the header through its last key
 * line; every other byte (comments above the next table included) is kept. The result is checked:
 * it must parse to the old document without that one entry, else a config error says to edit by hand.
 */
export function removeTableFromConfigText(text: string, section: "volumes" | "destinations", name: string): string {
  const bom = text.startsWith("\uFEFF");
  const before = parseOrThrow(bom ? text.slice(1) : text, "the config file");
  if (!isTable(before[section]) || !Object.hasOwn(before[section], name))
    throw configError(`${section === "volumes" ? "volume" : "destination"}_not_declared`, `${section}.${name} is not in the config`);
  const lines = text.split(/(?<=\n)/); // keep each line's own end of line
  const isOurs = (p: string[] | undefined) => p !== undefined && p[0] === section && p[1] === name;
  const drop = new Set<number>();
  for (let i = 0; i < lines.length; i++) {
    if (!isOurs(headerPath(lines[i]!))) continue;
    let end = i + 1;
    while (end < lines.length && headerPath(lines[end]!) === undefined && !/^\s*\[\[/.test(lines[end]!)) end++;
    let last = i; // the table's last key (or value continuation) line; trailing comments belong to what follows
    for (let j = i + 1; j < end; j++) if (!/^\s*(#.*)?\r?\n?$/.test(lines[j]!)) last = j;
    for (let j = i; j <= last; j++) drop.add(j);
    // a comment block right above the header, standing on its own (blank line or file start above it), is the table's
    let first = i;
    while (first > 0 && /^\s*#/.test(lines[first - 1]!)) first--;
    if (first < i && (first === 0 || /^\s*\r?\n$/.test(lines[first - 1]!))) for (let j = first; j < i; j++) drop.add(j);
    // one blank line that separated the removed table from what came before goes too
    if (first > 0 && /^\s*\r?\n$/.test(lines[first - 1]!) && (last + 1 >= lines.length || /^\s*\r?\n$/.test(lines[last + 1]!))) drop.add(first - 1);
  }
  const out = lines.filter((_, i) => !drop.has(i)).join("");
  const expected = structuredClone(before) as Record<string, any>;
  delete expected[section][name];
  let after: unknown;
  try {
    after = parseToml(out.startsWith("\uFEFF") ? out.slice(1) : out);
  } catch {
    after = undefined;
  }
  // the removed table may have been the only thing defining the section: an absent section is the empty one
  if (isTable(after) && after[section] === undefined && Object.keys(expected[section]).length === 0) after[section] = {};
  if (drop.size === 0 || canonical(after) !== canonical(expected))
    throw configError("config_edit_failed", `cannot remove [${section}.${tomlKey(name)}] from the config automatically (it is not written as its own table)`, `remove ${section}.${name} from the config by hand`);
  return out;
}

/** JSON with object keys sorted (documents compared whatever the order of their tables). */
function canonical(x: unknown): string {
  return JSON.stringify(x, (_, v) => (isTable(v) && !(v instanceof Date) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v));
}

/** Mode of a file hoard creates (config): private, whatever the umask. */
const NEW_FILE_MODE = 0o600;

/** Create a new file (refusing to overwrite one) with mode 0600, write text, fsync. */
export function writeNewPrivateFile(path: string, text: string): void {
  const fd = openSync(path, "wx", NEW_FILE_MODE);
  try {
    fchmodSync(fd, NEW_FILE_MODE);
    writeFileSync(fd, text, "utf8");
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Replace a file atomically (writeFileAtomicSync: temp beside it, fsync, rename over it, fsync of
 * the directory where the file system can). An existing file's permission bits are kept (a new one
 * is 0600); a symlink is followed (its target is replaced).
 */
export function writeFileAtomic(path: string, text: string): void {
  let target = path;
  let mode: number | undefined;
  try {
    target = realpathSync(path);
    mode = statSync(target).mode & 0o7777;
  } catch (e) {
    if ((e as NodeJS.ErrnoException)?.code !== "ENOENT") throw e;
  }
  writeFileAtomicSync(target, text, { mode: mode ?? NEW_FILE_MODE, exactMode: true, bestEffortDirSync: true });
}
