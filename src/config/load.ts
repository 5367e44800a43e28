// Finding, reading and validating config.toml: path resolution (flags, env, XDG), TOML parsing,
// disjoint volume/destination trees, the secrets it names, and one config error listing every key.

import * as v from "valibot";
import { readFileSync, realpathSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, isAbsolute, join, resolve, sep } from "node:path";
import { parse as parseToml, TomlError } from "smol-toml";
import { configError } from "../kernel/errors.ts";
import { sanitisedHostname } from "../kernel/runtime.ts";
import {
  configSchema,
  flattenIssues,
  formatKeyPath,
  isTable,
  type DestinationConfig,
  type FlatIssue,
  type HoardConfig,
  type ParsedRoot,
  type VolumeConfig,
} from "./schema.ts";

export type { HoardConfig, VolumeConfig, DestinationConfig, HookConfig, Secret } from "./schema.ts";

/** What the config names as secret: hooks never see these variables, stored text never these values. */
export interface ConfigSecrets {
  /** Environment variables named by `{ env = "VAR" }` anywhere in the config. */
  envVars: string[];
  /** Resolved values: of those variables, and literal strings at secret-looking keys of destination tables. */
  values: string[];
  /** Key paths of destination tables holding a literal (not `{ env }`) secret, e.g. `destinations.vault.password`. */
  literals: string[];
}

declare module "./schema.ts" {
  interface HoardConfig {
    /** Set by loadConfig/parseConfig. */
    secrets?: ConfigSecrets;
  }
}

export interface ConfigExtensions {
  /** type name -> schema of the plugin-specific keys (a strictObject) */
  destinationTypes: Map<string, v.GenericSchema>;
  /** extra keys allowed on every destination table (e.g. max_evidence_age), registered by policy plugins */
  destinationKeys: Map<string, v.GenericSchema>;
  /** extra top-level keys registered by plugins */
  rootKeys: Map<string, v.GenericSchema>;
}

/** Extensions with nothing registered. */
export const noExtensions = (): ConfigExtensions => ({ destinationTypes: new Map(), destinationKeys: new Map(), rootKeys: new Map() });

const env = (name: string): string | undefined => {
  const s = process.env[name];
  return s === undefined || s === "" ? undefined : s;
};
// XDG base directories must be absolute; a relative value is ignored (XDG spec).
const xdg = (name: string, fallback: string): string => {
  const s = env(name);
  return s !== undefined && isAbsolute(s) ? s : join(env("HOME") ?? homedir(), fallback);
};

/** --config, else $HOARD_CONFIG, else $XDG_CONFIG_HOME (default ~/.config)/hoard/config.toml; always absolute. */
export function resolveConfigPath(flag?: string): string {
  if (flag !== undefined && flag !== "") return resolve(flag);
  const e = env("HOARD_CONFIG");
  if (e !== undefined) return resolve(e);
  return join(xdg("XDG_CONFIG_HOME", ".config"), "hoard", "config.toml");
}

/** --db, else $HOARD_DB, else the config's db, else $XDG_DATA_HOME (default ~/.local/share)/hoard/hoard.db; always absolute. */
export function resolveDbPath(flag: string | undefined, cfg: HoardConfig | undefined): string {
  if (flag !== undefined && flag !== "") return resolve(flag);
  const e = env("HOARD_DB");
  if (e !== undefined) return resolve(e);
  if (cfg?.db) return cfg.db;
  return join(xdg("XDG_DATA_HOME", join(".local", "share")), "hoard", "hoard.db");
}

/** The config file's text, or undefined when it does not exist. Other read errors are config errors. */
export function readConfigText(path: string): string | undefined {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException)?.code;
    if (code === "ENOENT") return undefined;
    throw configError(
      "config_unreadable",
      `config file ${path} cannot be read: ${code === "EISDIR" ? "it is a directory" : ((e as Error)?.message ?? String(e))}`,
      "check the path and its permissions, or pass --config",
      { file: path },
    );
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw configError("config_encoding", `config file ${path} is not valid UTF-8`, "TOML files must be UTF-8; re-save it as UTF-8", { file: path });
  }
}

const display = (file: string) => (file === "" ? "(no config file)" : file);

function syntaxError(err: TomlError, file: string): never {
  // smol-toml's message is "Invalid TOML document: <what>\n\n<code block>"; the code block quotes
  // the offending line, which may hold a secret, so only the description and position are kept.
  const what = err.message.replace(/^Invalid TOML document:\s*/, "").split("\n")[0]!.trim();
  throw configError(
    "config_syntax",
    `config file ${display(file)}: TOML syntax error at line ${err.line}, column ${err.column}: ${what}`,
    `fix the TOML syntax at ${display(file)}:${err.line}:${err.column}`,
    { file, line: err.line, column: err.column },
  );
}

/** Checks across tables, done on the raw TOML so they report even when other keys are wrong. */
function crossChecks(raw: Record<string, unknown>, absVolumePaths: Map<string, string>): FlatIssue[] {
  const out: FlatIssue[] = [];
  const item = (input: Record<string, unknown>, key: string | number): v.IssuePathItem =>
    typeof key === "number"
      ? { type: "array", origin: "value", input: input as unknown as unknown[], key, value: (input as unknown as unknown[])[key] }
      : { type: "object", origin: "value", input, key, value: input[key] };
  const dests = isTable(raw.destinations) ? Object.keys(raw.destinations) : [];
  const declared = new Set(dests);
  const vols = raw.volumes;
  if (isTable(vols)) {
    for (const [name, vol] of Object.entries(vols)) {
      if (!isTable(vol)) continue;
      for (const key of ["sync_to", "offload_requires"] as const) {
        const list = vol[key];
        if (!Array.isArray(list)) continue;
        const seen = new Set<string>();
        list.forEach((d, i) => {
          if (typeof d !== "string") return;
          const path = [item(raw, "volumes"), item(vols, name), item(vol, key), item(list as unknown as Record<string, unknown>, i)];
          if (!declared.has(d))
            out.push({
              items: path,
              message: `unknown destination ${JSON.stringify(d)} (declared: ${dests.length ? [...dests].sort().join(", ") : "none"})`,
            });
          else if (seen.has(d)) out.push({ items: path, message: `destination ${JSON.stringify(d)} is listed twice` });
          seen.add(d);
        });
      }
    }
  }
  // Disjoint trees: a volume inside another volume or a local destination would index (and could
  // offload) bytes twice or the copies themselves; a local destination inside a volume likewise.
  for (const p of treeOverlaps(localTrees(absVolumePaths, isTable(raw.destinations) ? raw.destinations : {}))) {
    const t = p.a;
    const keyItems =
      t.kind === "volume"
        ? [item(raw, "volumes"), item(vols as Record<string, unknown>, t.name), item((vols as Record<string, Record<string, unknown>>)[t.name]!, "path")]
        : [item(raw, "destinations"), item(raw.destinations as Record<string, unknown>, t.name), item((raw.destinations as Record<string, Record<string, unknown>>)[t.name]!, t.key)];
    out.push({ items: keyItems, message: p.message });
  }
  return out;
}

/** Parse and validate config text. `file` names the file in messages ("" when there is none). Throws a config error. */
export function parseConfig(text: string, file: string, ext: ConfigExtensions): HoardConfig {
  const absFile = file === "" ? "" : resolve(file);
  let raw: Record<string, unknown>;
  try {
    raw = parseToml(text.startsWith("\uFEFF") ? text.slice(1) : text) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof TomlError) syntaxError(e, absFile);
    throw configError("config_syntax", `config file ${display(absFile)}: cannot parse TOML: ${(e as Error)?.message ?? e}`, undefined, { file: absFile });
  }

  let result = v.safeParse(configSchema(ext), raw);
  let issues: FlatIssue[] = result.success ? [] : flattenIssues(result.issues);
  // destinations whose only problem is an unset secret variable: they fail when used, not at load
  const unusable = unsetSecretsOnly(issues);
  if (unusable) {
    const again = v.safeParse(configSchema(ext), { ...raw, destinations: Object.fromEntries(Object.entries(raw.destinations as Record<string, unknown>).filter(([n]) => !unusable.has(n))) });
    if (again.success) {
      result = again;
      issues = [];
    } else unusable.clear();
  }

  const volumePaths = new Map<string, string>();
  if (result.success) {
    for (const [name, vol] of Object.entries((result.output as unknown as ParsedRoot).volumes)) volumePaths.set(name, vol.path);
  } else if (isTable(raw.volumes)) {
    // best effort on the raw values, so overlaps are reported together with other problems
    for (const [name, vol] of Object.entries(raw.volumes))
      if (isTable(vol) && typeof vol.path === "string" && isAbsolute(vol.path)) volumePaths.set(name, resolve(vol.path));
  }
  issues.push(...crossChecks(raw, volumePaths));

  if (issues.length > 0) {
    const seen = new Set<string>();
    const lines: { path: string; message: string }[] = [];
    for (const i of issues) {
      const path = formatKeyPath(i.items);
      const id = `${path}\0${i.message}`;
      if (seen.has(id)) continue;
      seen.add(id);
      lines.push({ path, message: i.message });
    }
    throw configError(
      "config_invalid",
      `config file ${display(absFile)} is invalid:\n${lines.map((l) => `  ${l.path}: ${l.message}`).join("\n")}`,
      `fix the listed key${lines.length > 1 ? "s" : ""} in ${display(absFile)}`,
      { file: absFile, issues: lines },
    );
  }

  const out = result.output as unknown as ParsedRoot;
  const base = absFile === "" ? process.cwd() : dirname(absFile);

  const volumes: Record<string, VolumeConfig> = {};
  for (const [name, vol] of Object.entries(out.volumes)) {
    volumes[name] = {
      name,
      path: vol.path,
      sync_to: vol.sync_to,
      offload_requires: vol.offload_requires,
      exclude: vol.exclude,
      ...(vol.hook ? { hook: vol.hook } : {}),
    };
  }
  const destinations: Record<string, DestinationConfig> = {};
  for (const [name, d] of Object.entries(out.destinations)) {
    destinations[name] = { name, type: d.type, options: d.options, table: { ...d.options, ...d.common, type: d.type } };
  }
  for (const [name, lines] of unusable ?? []) destinations[name] = unusableDestination(name, String((raw.destinations as Record<string, Record<string, unknown>>)[name]!.type), lines, absFile);
  const extra: Record<string, unknown> = {};
  for (const key of ext.rootKeys.keys()) if (out[key] !== undefined) extra[key] = out[key];

  const config: HoardConfig = {
    file: absFile,
    node: out.node ?? sanitisedHostname(),
    ...(out.db !== undefined ? { db: out.db } : {}),
    ...(out.nodes !== undefined ? { nodes: Object.fromEntries(Object.entries(out.nodes).map(([name, n]) => [name, { name, public_key: n.public_key }])) } : {}),
    plugins: out.plugins.map((p) => resolve(base, p)),
    volumes,
    destinations,
    extra,
  };
  // not enumerable: a printed or serialised config never carries the secret values
  Object.defineProperty(config, "secrets", { value: collectSecrets(raw), enumerable: false });
  return config;
}

const UNSET_SECRET = /^environment variable [A-Za-z_][A-Za-z0-9_]* is (not set|empty)$/;

/**
 * When every issue is an unset (or empty) `{ env = "VAR" }` secret of a destination table: those
 * destinations, each with its issue lines (`destinations.NAME.KEY: environment variable VAR is not set`).
 */
function unsetSecretsOnly(issues: FlatIssue[]): Map<string, string[]> | undefined {
  if (issues.length === 0) return undefined;
  const out = new Map<string, string[]>();
  for (const i of issues) {
    const [top, dest] = i.items;
    if (!UNSET_SECRET.test(i.message) || top?.key !== "destinations" || typeof dest?.key !== "string") return undefined;
    out.set(dest.key, [...(out.get(dest.key) ?? []), `${formatKeyPath(i.items)}: ${i.message}`]);
  }
  return out;
}

/**
 * A declared destination that cannot be opened because a secret variable it names is unset: reading
 * its options (what opening it does) throws a config error naming the variable, so only the
 * commands that use this destination fail; `status` and the other destinations work.
 */
function unusableDestination(name: string, type: string, lines: string[], file: string): DestinationConfig {
  const d = { name, type, table: { type } } as unknown as DestinationConfig;
  const variable = /variable (\S+)/.exec(lines[0]!)?.[1] ?? "VAR";
  Object.defineProperty(d, "options", {
    enumerable: false,
    get() {
      throw configError(
        "config_secret_unset",
        `destination ${name} cannot be used: ${lines.join("; ")}`,
        `set ${variable} in hoard's environment (\`export ${variable}=…\` in the shell or the job that runs hoard), or change the key in ${display(file)}`,
        { file, destination: name, issues: lines },
      );
    },
  });
  return d;
}

/** Read and parse a config file. A missing file is an error only when `required`; otherwise the empty config. */
export function loadConfig(file: string, ext: ConfigExtensions, opts: { required?: boolean } = {}): HoardConfig {
  const text = readConfigText(file);
  if (text === undefined) {
    if (opts.required)
      throw configError("config_missing", `config file ${file} does not exist`, "create it (hoard can write a starter config), or pass --config / set HOARD_CONFIG", {
        file,
      });
    return parseConfig("", "", ext);
  }
  return parseConfig(text, file, ext);
}

// ---------- disjoint trees ----------

/** A local directory tree named by the config: a volume, or a destination that lives on a local path. */
export interface LocalTree {
  kind: "volume" | "destination";
  name: string;
  /** The key holding the path: `path` for volumes and fs, `remote` for rclone, `repository` for kopia. */
  key: string;
  /** e.g. `volume "photos"`, `fs destination "nas"`. */
  label: string;
  /** Absolute, normalised as written. */
  path: string;
  /** With symlinks of the existing prefix resolved. */
  real: string;
}

/** realpath of the longest existing prefix, with the rest appended (a tree may not exist yet). */
export function realPrefixPath(p: string): string {
  const rest: string[] = [];
  let cur = resolve(p);
  for (;;) {
    try {
      return rest.length ? join(realpathSync.native(cur), ...rest.reverse()) : realpathSync.native(cur);
    } catch {
      const parent = dirname(cur);
      if (parent === cur) return resolve(p);
      rest.push(basename(cur));
      cur = parent;
    }
  }
}

/** The local path of a destination table (best effort: fs `path`, rclone `/abs` or `:local:/abs`, kopia `repository`). */
export function destinationLocalPath(table: Record<string, unknown>): { key: string; path: string } | undefined {
  const abs = (key: string, p: unknown) => (typeof p === "string" && isAbsolute(p) && !p.includes("\0") ? { key, path: resolve(p) } : undefined);
  switch (table.type) {
    case "fs":
      return abs("path", table.path);
    case "kopia":
      return abs("repository", table.repository);
    case "rclone": {
      const r = table.remote;
      if (typeof r !== "string") return undefined;
      if (r.startsWith("/")) return abs("remote", r);
      const m = /^:local(?:,[^:]*)?:(.*)$/.exec(r);
      return m ? abs("remote", m[1]) : undefined;
    }
    default:
      return undefined;
  }
}

/** Every local tree of a config: volumes (name -> absolute path) and destination tables (with `type`). */
export function localTrees(volumes: Map<string, string> | Record<string, { path: string }>, destinations: Record<string, unknown>): LocalTree[] {
  const out: LocalTree[] = [];
  const vols = volumes instanceof Map ? [...volumes] : Object.entries(volumes).map(([n, vol]) => [n, vol.path] as const);
  for (const [name, p] of vols) if (isAbsolute(p)) out.push({ kind: "volume", name, key: "path", label: `volume ${JSON.stringify(name)}`, path: resolve(p), real: realPrefixPath(p) });
  for (const [name, t] of Object.entries(destinations)) {
    if (!isTable(t)) continue;
    const loc = destinationLocalPath(t);
    if (loc) out.push({ kind: "destination", name, key: loc.key, label: `${String(t.type)} destination ${JSON.stringify(name)}`, path: loc.path, real: realPrefixPath(loc.path) });
  }
  return out;
}

const under = (p: string, root: string) => p !== root && p.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);

/**
 * The overlaps among trees, each reported at one tree (`a`, whose key is at fault) naming the
 * other: volumes inside volumes or local destinations, local destinations inside volumes. Two
 * destinations may share a parent (their identities keep them apart). Literal and real paths both count.
 */
export function treeOverlaps(trees: LocalTree[]): { a: LocalTree; b: LocalTree; message: string }[] {
  const out: { a: LocalTree; b: LocalTree; message: string }[] = [];
  const where = (b: LocalTree, literal: boolean) => (literal ? b.path : `${b.path}, which resolves to ${b.real}`);
  for (const a of trees) {
    let volumeReported = false; // between volumes, one message per volume (the first other one)
    for (const b of trees) {
      if (a === b || (a.kind === "destination" && b.kind === "destination")) continue;
      const bothVolumes = a.kind === "volume" && b.kind === "volume";
      if (bothVolumes && volumeReported) continue;
      const sameLit = a.path === b.path;
      if (sameLit || a.real === b.real) {
        // reported once: at the volume; between two volumes, at the one whose name sorts later
        if (a.kind === "destination" || (bothVolumes && b.name > a.name)) continue;
        out.push({ a, b, message: `is the same directory as ${b.label}${sameLit ? "" : ` (${where(b, false)})`}` });
        volumeReported ||= bothVolumes;
        continue;
      }
      const lit = under(a.path, b.path);
      if (lit || under(a.real, b.real)) {
        out.push({ a, b, message: `is inside ${b.label} (${where(b, lit)})` });
        volumeReported ||= bothVolumes;
      }
    }
  }
  // one message per (tree, other); the volume-volume pass above stops at the first other volume
  const seen = new Set<string>();
  return out.filter((o) => {
    const id = `${o.a.kind}\0${o.a.name}\0${o.b.kind}\0${o.b.name}`;
    return seen.has(id) ? false : (seen.add(id), true);
  });
}

/**
 * Refuse (exit 2, before anything is written) a volume at `path` that would overlap a volume or a
 * local destination of the config, naming both.
 */
export function assertVolumeDisjoint(config: HoardConfig, name: string, path: string): void {
  const vols = new Map(Object.entries(config.volumes).map(([n, vol]) => [n, vol.path] as const));
  vols.set(name, resolve(path));
  const tables = Object.fromEntries(Object.entries(config.destinations).map(([n, d]) => [n, d.table]));
  const bad = treeOverlaps(localTrees(vols, tables)).filter((o) => (o.a.kind === "volume" && o.a.name === name) || (o.b.kind === "volume" && o.b.name === name));
  if (bad.length === 0) return;
  const lines = bad.map((o) => `${o.a.label} at ${o.a.path} ${o.message}`);
  throw configError(
    "trees_overlap",
    `refused: volume ${JSON.stringify(name)} at ${path} would overlap:\n${lines.map((l) => `  ${l}`).join("\n")}`,
    "volumes and local destinations must be disjoint trees (neither inside the other): pick another directory",
    { volume: name, path, overlaps: bad.map((o) => ({ tree: o.a.label, path: o.a.path, other: o.b.label, other_path: o.b.path })) },
  );
}

/** Refuse (exit 2) when the loaded config's trees overlap now (symlinks may have changed since it was written). */
export function assertTreesDisjoint(config: HoardConfig): void {
  const tables = Object.fromEntries(Object.entries(config.destinations).map(([n, d]) => [n, d.table]));
  const bad = treeOverlaps(localTrees(config.volumes, tables));
  if (bad.length === 0) return;
  throw configError(
    "trees_overlap",
    `refused: volumes and destinations of ${display(config.file)} overlap:\n${bad.map((o) => `  ${o.a.label} at ${o.a.path} ${o.message}`).join("\n")}`,
    "volumes and local destinations must be disjoint trees (neither inside the other): fix the paths in the config",
    { overlaps: bad.map((o) => ({ tree: o.a.label, path: o.a.path, other: o.b.label, other_path: o.b.path })) },
  );
}

// ---------- secrets ----------

/** Keys of destination tables whose literal string values are secrets. */
const SECRET_KEY = /(^|_)(pass|passwd|password|passphrase|secret|token|key|credentials?)($|_)/i;

/** Collect `{ env = "VAR" }` tables anywhere, and literal strings at secret-looking destination keys. */
export function collectSecrets(raw: Record<string, unknown>, env: Record<string, string | undefined> = process.env): ConfigSecrets {
  const envVars = new Set<string>();
  const values = new Set<string>();
  const literals: string[] = [];
  const walk = (x: unknown, path: string[], inDest: boolean) => {
    if (Array.isArray(x)) {
      x.forEach((y, i) => walk(y, [...path, `[${i}]`], inDest));
      return;
    }
    if (!isTable(x)) return;
    const keys = Object.keys(x);
    if (keys.length === 1 && keys[0] === "env" && typeof x.env === "string") {
      envVars.add(x.env);
      const val = env[x.env];
      if (val) values.add(val);
      return;
    }
    for (const k of keys) {
      const val = x[k];
      if (inDest && path.length >= 2 && typeof val === "string" && val !== "" && SECRET_KEY.test(k)) {
        values.add(val);
        literals.push([...path, k].join("."));
      } else walk(val, [...path, k], inDest || (path.length === 0 && k === "destinations"));
    }
  };
  walk(raw, [], false);
  return { envVars: [...envVars].sort(), values: [...values].sort((a, b) => b.length - a.length), literals };
}

/** Warnings about the config file itself: group/world-readable while it holds a literal secret. */
export function configFileWarnings(config: HoardConfig): string[] {
  if (config.file === "" || !config.secrets?.literals.length) return [];
  let mode: number;
  try {
    mode = statSync(config.file).mode & 0o777;
  } catch {
    return [];
  }
  if ((mode & 0o077) === 0) return [];
  return [
    `config file ${config.file} holds a literal secret (${config.secrets.literals.join(", ")}) and is readable by ${mode & 0o007 ? "everyone" : "its group"} (mode ${mode.toString(8).padStart(4, "0")}): chmod 600 it, or use { env = "VAR" }`,
  ];
}
