// Config schemas: the validated config's types and the valibot schema of every config.toml table
// (strict: unknown keys are errors), with secrets resolved from the environment.

import * as v from "valibot";
import { configError } from "../kernel/errors.ts";
import { compileExclude } from "../kernel/exclude.ts";
import { describe, flattenIssues, formatKeyPath, type FlatIssue } from "./issues.ts";
import { absolutePath, duration, size, stringOf, table, tableValue } from "./values.ts";

// ---------- the validated config ----------

export type Secret = string; // after resolution
export interface HookConfig {
  command: string[];
  timeout_ns: bigint; // default "1h"
}
export interface VolumeConfig {
  name: string;
  path: string;
  sync_to: string[];
  offload_requires: string[];
  /** Gitignore-style patterns (src/kernel/exclude.ts) the index skips: never recorded, synced or offloaded. */
  exclude: string[];
  hook?: HookConfig;
}
export interface DestinationConfig {
  name: string;
  type: string;
  /** The validated plugin-specific table (without `type` and without registered common keys). */
  options: Record<string, unknown>;
  /** All validated keys: `type`, registered common keys and the plugin-specific ones. */
  table: Record<string, unknown>;
}
export interface HoardConfig {
  /** Absolute path of the config file, or "" when none. */
  file: string;
  node: string;
  db?: string;
  /** Absolute, resolved relative to the config file's directory. */
  plugins: string[];
  volumes: Record<string, VolumeConfig>;
  destinations: Record<string, DestinationConfig>;
  /** [nodes.NAME] public_key: other machines whose signed catalogs `hoard recover` trusts (absent when none). */
  nodes?: Record<string, NodeConfig>;
  /** Validated values of registered root keys. */
  extra: Record<string, unknown>;
}

/** A trusted catalog signer: another machine's ed25519 public key (64 hex digits; `hoard key show` prints it). */
export interface NodeConfig {
  name: string;
  public_key: string;
}

/** What the config module needs to know about plugins (see load.ts). */
export interface SchemaExtensions {
  destinationTypes: Map<string, v.GenericSchema>;
  destinationKeys: Map<string, v.GenericSchema>;
  rootKeys: Map<string, v.GenericSchema>;
}

/** Volume and destination names. */
export const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export const BUILTIN_ROOT_KEYS = ["node", "db", "plugins", "volumes", "destinations", "nodes"] as const;

/**
 * Keys every [destinations.X] table may carry, whatever its type: how offload proves files live
 * there, and how often its objects are read again.
 */
export const BUILTIN_DESTINATION_KEYS = {
  /** Depth of the live confirmation right before an offload unlinks ("presence" or "content"). */
  offload_confirm: v.optional(v.picklist(["presence", "content"], 'expected "presence" or "content"'), "presence"),
  /** Files whose last content check here is older than this are confirmed by content. */
  reverify_after: v.optional(duration(), "30d"),
  /** Bytes per sync whose content is read again, oldest check first ("0": off). */
  reverify_budget: v.optional(size(), "1GiB"),
  /** May be believed from recorded evidence when it cannot be reached (a disk in your safe). */
  trusted: v.optional(v.boolean(), false),
};

/** The proof settings of one destination, from its validated table. */
export interface DestinationProof {
  confirm: "presence" | "content";
  reverifyAfterNs: bigint;
  reverifyBudget: number;
  trusted: boolean;
}
export function proofOf(table: Record<string, unknown> | undefined): DestinationProof {
  const t = table ?? {};
  return {
    confirm: t.offload_confirm === "content" ? "content" : "presence",
    reverifyAfterNs: typeof t.reverify_after === "bigint" ? t.reverify_after : 30n * 86_400_000_000_000n,
    reverifyBudget: typeof t.reverify_budget === "number" ? t.reverify_budget : 1024 ** 3,
    trusted: t.trusted === true,
  };
}

const nameKey = (what: "volume" | "destination") =>
  v.pipe(
    v.string(),
    v.regex(NAME_RE, (issue) => `invalid ${what} name ${JSON.stringify(issue.input)}: use 1-64 characters from a-z 0-9 . _ -, starting with a letter or digit`),
  );


// ---------- the tables ----------

export const hookSchema = v.pipe(
  table({
    command: v.pipe(
      v.array(stringOf(), (issue) => `expected an array of strings (program and arguments), got ${describe(issue.input)}`),
      v.minLength(1, "must be a non-empty array of strings (program and arguments)"),
      v.check((a) => a[0] !== "", "the program (first element) must not be empty"),
    ),
    timeout: v.optional(v.pipe(duration(), v.check((ns) => ns > 0n, "must be longer than zero")), "1h"),
  }),
  v.transform((h): HookConfig => ({ command: h.command, timeout_ns: h.timeout })),
);

const destinationList = () =>
  v.optional(v.array(stringOf("a destination name"), (issue) => `expected an array of destination names, got ${describe(issue.input)}`), () => []);

/** A volume's exclude patterns: each must compile (src/kernel/exclude.ts says what is wrong). */
const excludeList = () =>
  v.optional(
    v.array(
      v.pipe(
        stringOf("a pattern string"),
        v.rawTransform(({ dataset, addIssue, NEVER }) => {
          try {
            compileExclude(dataset.value);
            return dataset.value;
          } catch (e) {
            addIssue({ message: `invalid exclude pattern: ${(e as Error).message}` });
            return NEVER;
          }
        }),
      ),
      (issue) => `expected an array of patterns such as ["**/.DS_Store", "*.tmp"], got ${describe(issue.input)}`,
    ),
    () => [],
  );

export const volumeSchema = table({
  path: absolutePath(),
  sync_to: destinationList(),
  offload_requires: destinationList(),
  exclude: excludeList(),
  hook: v.optional(hookSchema),
});

export interface ParsedDestination {
  type: string;
  common: Record<string, unknown>;
  options: Record<string, unknown>;
}

/**
 * One [destinations.NAME] table: `type` and the registered common keys are validated by a base
 * strict table; the rest by the schema of the destination type `type` names.
 */
export function destinationSchema(ext: SchemaExtensions): v.GenericSchema<unknown, ParsedDestination> {
  for (const k of ext.destinationKeys.keys())
    if (k === "type" || Object.hasOwn(BUILTIN_DESTINATION_KEYS, k)) throw configError("config_key_conflict", `a plugin registered destination key "${k}", which is built in`);
  const base = table({ type: stringOf(), ...BUILTIN_DESTINATION_KEYS, ...Object.fromEntries(ext.destinationKeys) });
  return v.pipe(
    tableValue(),
    v.rawTransform(({ dataset, addIssue, NEVER }): ParsedDestination => {
      const input = dataset.value;
      const report = (flat: FlatIssue[]) => {
        for (const f of flat) addIssue({ message: f.message, path: [...f.items] as [v.IssuePathItem, ...v.IssuePathItem[]] });
      };
      const common: Record<string, unknown> = {};
      const rest: Record<string, unknown> = {};
      for (const k of Object.keys(input)) (k === "type" || Object.hasOwn(BUILTIN_DESTINATION_KEYS, k) || ext.destinationKeys.has(k) ? common : rest)[k] = input[k];

      const b = v.safeParse(base, common);
      if (!b.success) report(flattenIssues(b.issues));

      const type = input.type;
      let options: Record<string, unknown> | undefined;
      if (typeof type === "string") {
        const schema = ext.destinationTypes.get(type);
        if (!schema) {
          const known = [...ext.destinationTypes.keys()].sort();
          addIssue({
            message: `unknown destination type ${JSON.stringify(type)} (known: ${known.length ? known.join(", ") : "none"})`,
            path: [{ type: "object", origin: "value", input, key: "type", value: type }],
          });
        } else {
          const flat: FlatIssue[] = [];
          // valibot reports one unknown key per table, and a plain v.object strips them silently:
          // report every key the type's schema does not declare.
          const s = schema as unknown as { type?: string; entries?: Record<string, unknown> };
          if (s.entries && typeof s.entries === "object" && s.type !== "loose_object" && s.type !== "object_with_rest")
            for (const k of Object.keys(rest))
              if (!Object.hasOwn(s.entries, k)) flat.push({ items: [{ type: "object", origin: "key", input: rest, key: k, value: rest[k] }], message: "unknown key" });
          const p = v.safeParse(schema, rest);
          if (p.success) options = p.output as Record<string, unknown>;
          else flat.push(...flattenIssues(p.issues));
          const seen = new Set<string>();
          report(flat.filter((f) => {
            const id = `${formatKeyPath(f.items)}\0${f.message}`;
            return seen.has(id) ? false : (seen.add(id), true);
          }));
        }
      }
      if (dataset.issues || !b.success || options === undefined || typeof type !== "string") return NEVER;
      return { type, common: b.output as Record<string, unknown>, options };
    }),
  );
}

const nodeName = () =>
  v.pipe(
    stringOf(),
    v.regex(/^[^\s\/\\]{1,253}$/u, "must be 1-253 characters without spaces or slashes"),
  );

/** The whole file. Output is loosely typed: load.ts assembles the HoardConfig. */
export function configSchema(ext: SchemaExtensions) {
  for (const k of ext.rootKeys.keys())
    if ((BUILTIN_ROOT_KEYS as readonly string[]).includes(k))
      throw configError("config_key_conflict", `a plugin registered top-level key "${k}", which is built in`);
  return table({
    node: v.optional(nodeName()),
    db: v.optional(absolutePath()),
    plugins: v.optional(
      v.array(
        v.pipe(stringOf("a plugin path"), v.minLength(1, "must not be empty")),
        (issue) => `expected an array of plugin paths, got ${describe(issue.input)}`,
      ),
      () => [],
    ),
    volumes: v.optional(v.pipe(tableValue(), v.record(nameKey("volume"), volumeSchema)), () => ({})),
    destinations: v.optional(v.pipe(tableValue(), v.record(nameKey("destination"), destinationSchema(ext))), () => ({})),
    nodes: v.optional(v.pipe(tableValue(), v.record(v.pipe(v.string(), v.regex(/^[^\s\/\\]{1,253}$/u, "a node name must be 1-253 characters without spaces or slashes")), nodeSchema))),
    ...Object.fromEntries(ext.rootKeys),
  });
}

/** One [nodes.NAME] table: the public key of a machine whose catalogs are trusted. */
export const nodeSchema = table({
  public_key: v.pipe(
    stringOf("a string (64 hex digits)"),
    v.regex(/^[0-9a-fA-F]{64}$/, "must be an ed25519 public key: 64 hex digits (`hoard key show` on that machine prints it)"),
    v.transform((s) => s.toLowerCase()),
  ),
});

export interface ParsedRoot {
  node?: string;
  db?: string;
  plugins: string[];
  volumes: Record<string, v.InferOutput<typeof volumeSchema>>;
  destinations: Record<string, ParsedDestination>;
  nodes?: Record<string, { public_key: string }>;
  [extra: string]: unknown;
}
