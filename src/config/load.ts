// Reading and validating config.toml: TOML parsing, the schemas with what plugins registered, checks
// across tables (disjoint trees, known destinations), secrets collected, one config error listing every key.

import * as v from "valibot";
import { dirname, isAbsolute, resolve } from "node:path";
import { parse as parseToml, TomlError } from "smol-toml";
import { configError } from "../kernel/errors.ts";
import { sanitisedHostname } from "../kernel/runtime.ts";
import { flattenIssues, formatKeyPath, isTable, type FlatIssue } from "./issues.ts";
import { configSchema, type DestinationConfig, type HoardConfig, type ParsedRoot, type VolumeConfig } from "./schema.ts";
import { display, readConfigText } from "./paths.ts";
import { collectSecrets } from "./secrets.ts";
import { localTrees, treeOverlaps } from "./trees.ts";

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
