// Finding, reading and validating config.toml: path resolution (flags, env, XDG), TOML parsing,
// and one config error naming the file and every offending key path.

import * as v from "valibot";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
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
    // Two volumes on the same tree, or one inside another, would index the same files twice.
    for (const [name, p] of absVolumePaths) {
      for (const [other, q] of absVolumePaths) {
        if (other === name) continue;
        const inside = q === p ? other < name : p.startsWith(q.endsWith("/") ? q : `${q}/`);
        if (inside && isTable(vols[name])) {
          out.push({
            items: [item(raw, "volumes"), item(vols, name), item(vols[name] as Record<string, unknown>, "path")],
            message: q === p ? `is the same directory as volume ${JSON.stringify(other)}` : `is inside volume ${JSON.stringify(other)} (${q})`,
          });
          break;
        }
      }
    }
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

  const result = v.safeParse(configSchema(ext), raw);
  const issues: FlatIssue[] = result.success ? [] : flattenIssues(result.issues);

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
      ...(vol.hook ? { hook: vol.hook } : {}),
    };
  }
  const destinations: Record<string, DestinationConfig> = {};
  for (const [name, d] of Object.entries(out.destinations)) {
    destinations[name] = { name, type: d.type, options: d.options, table: { ...d.options, ...d.common, type: d.type } };
  }
  const extra: Record<string, unknown> = {};
  for (const key of ext.rootKeys.keys()) if (out[key] !== undefined) extra[key] = out[key];

  return {
    file: absFile,
    node: out.node ?? sanitisedHostname(),
    ...(out.db !== undefined ? { db: out.db } : {}),
    plugins: out.plugins.map((p) => resolve(base, p)),
    volumes,
    destinations,
    extra,
  };
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
