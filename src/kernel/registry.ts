// The plugin registry: runs each plugin's setup against a PluginApi, keeps what each registered,
// and emits typed hooks in plugin order, collecting the decisions listeners return (checked, never trusted).

import * as v from "valibot";
import type { GenericSchema } from "valibot";
import {
  API_VERSION,
  type DestinationType,
  type HookDecision,
  type HookName,
  type HookPayload,
  type Listener,
  type Plugin,
  type PluginApi,
  type PluginUtil,
  type PolicyInfo,
} from "./plugin.ts";
import { configError, failure, HoardError, refused } from "./errors.ts";
import { spawnTool } from "./spawn.ts";
import { nowNs } from "./runtime.ts";
import { hashFile, streamHasher } from "./hash.ts";
import { parseDuration, formatDuration } from "./duration.ts";
import { writeFileAtomic } from "./atomic.ts";
import { catalogRules } from "./catalogstore.ts";
import { openRoot, splitRel } from "./anchored.ts";
import { secret } from "./secret.ts";

export interface PluginRecord {
  name: string;
  source: string; // "builtin" or a file path
  destinations: string[];
  policies: PolicyInfo[];
  hooks: HookName[];
  configKeys: string[];
}

export const pluginUtil: PluginUtil = {
  secret: () => secret() as GenericSchema<unknown, string>,
  parseDuration,
  formatDuration,
  spawn: (cmd, args, opts) => spawnTool(cmd, args, opts),
  blake3File: async (p) => (await hashFile(p)).blake3,
  blake3Stream: streamHasher,
  nowNs,
  writeFileAtomic,
  catalogs: catalogRules,
  anchored: { openRoot, splitRel },
  errors: {
    refused: (c, m, h) => refused(c, m, h),
    failure: (c, m, h) => failure(c, m, h),
    config: (c, m, h) => configError(c, m, h),
  },
};

/** A decision one plugin's listener returned. */
export interface Decided<K extends HookName> {
  plugin: string;
  decision: HookDecision<K>;
}

const isText = (x: unknown, optional = false) => (optional && x === undefined) || (typeof x === "string" && x.length > 0);

/** Whether `d` is a well-formed decision for `hook` (a plugin's return value is checked, not cast). */
function validDecision(hook: HookName, d: any): boolean {
  if (typeof d !== "object" || d === null) return false;
  switch (hook) {
    case "sync:preflight":
    case "gate:check":
      return isText(d.refuse) && isText(d.hint, true);
    case "evidence:advance":
      return isText(d.reject);
    case "evidence:expiry":
      return (d.expiresAt === null || typeof d.expiresAt === "bigint") && isText(d.why);
    default:
      return false; // an observing hook takes no decision
  }
}

type AnyDestinationType = DestinationType<GenericSchema>;

export class Registry {
  readonly plugins: PluginRecord[] = [];
  readonly destinationTypes = new Map<string, { type: AnyDestinationType; plugin: string }>();
  readonly destinationKeys = new Map<string, GenericSchema>();
  readonly rootKeys = new Map<string, GenericSchema>();
  private listeners = new Map<HookName, { plugin: string; fn: Listener<any> }[]>();

  register(plugin: Plugin, source = "builtin"): void {
    const where = source === "builtin" ? `built-in plugin` : `plugin ${source}`;
    if (!plugin || typeof plugin !== "object" || typeof plugin.name !== "string" || typeof plugin.setup !== "function")
      throw configError("plugin_invalid", `${where} does not export a plugin (an object with name and setup(api))`, "export default { name, apiVersion: 1, setup(api) { … } } (see docs/plugins.md)");
    if (plugin.apiVersion !== API_VERSION)
      throw configError("plugin_api_version", `plugin ${plugin.name} (${source}) ${plugin.apiVersion === undefined ? "does not declare apiVersion" : `wants plugin API version ${plugin.apiVersion}`}; this hoard provides ${API_VERSION}`, plugin.apiVersion === undefined ? `add apiVersion: ${API_VERSION} to the plugin` : "update the plugin or hoard so the versions agree");
    const taken = this.plugins.find((p) => p.name === plugin.name);
    if (taken)
      throw configError("plugin_duplicate", `plugin name ${plugin.name} (${source}) is already registered by ${taken.source === "builtin" ? "a built-in plugin" : taken.source}`, "give each plugin a unique name, and list each file once");
    const rec: PluginRecord = { name: plugin.name, source, destinations: [], policies: [], hooks: [], configKeys: [] };
    const api: PluginApi = {
      apiVersion: API_VERSION,
      v,
      util: pluginUtil,
      destination: (t) => {
        if (this.destinationTypes.has(t.name))
          throw configError("destination_type_duplicate", `plugin ${plugin.name}: destination type ${t.name} is already registered by ${this.destinationTypes.get(t.name)!.plugin}`);
        this.destinationTypes.set(t.name, { type: t as unknown as AnyDestinationType, plugin: plugin.name });
        rec.destinations.push(t.name);
      },
      policy: (info) => void rec.policies.push(info),
      on: (hook, fn) => {
        let l = this.listeners.get(hook);
        if (!l) this.listeners.set(hook, (l = []));
        l.push({ plugin: plugin.name, fn });
        if (!rec.hooks.includes(hook)) rec.hooks.push(hook);
      },
      configKey: (scope, key, schema) => {
        const m = scope === "destination" ? this.destinationKeys : this.rootKeys;
        if (m.has(key)) throw configError("config_key_duplicate", `plugin ${plugin.name}: config key ${key} is already registered`);
        m.set(key, schema);
        rec.configKeys.push(`${scope === "destination" ? "destinations.*." : ""}${key}`);
        return { key, get: (table) => table[key] as any };
      },
    };
    try {
      const r: unknown = plugin.setup(api);
      if (r && typeof (r as PromiseLike<unknown>).then === "function") {
        (r as Promise<unknown>).then(undefined, () => {}); // reported below, not as an unhandled rejection
        throw configError("plugin_setup_async", `plugin ${plugin.name} (${source}): setup returned a promise; it must register everything synchronously`, "make setup a plain function; do async work inside hook listeners");
      }
    } catch (e) {
      if (e instanceof HoardError) throw source === "builtin" || e.message.includes(source) ? e : new HoardError(e.kind, e.code, `${e.message} (in setup of plugin ${plugin.name}, ${source})`, { hint: e.hint, details: e.details });
      throw configError("plugin_setup", `plugin ${plugin.name} (${source}) failed in setup: ${(e as Error)?.message ?? e}`, "fix or remove the plugin from `plugins` in the config");
    }
    this.plugins.push(rec);
  }

  /**
   * Call every listener of a hook in plugin order and return the decisions they made (nothing
   * returned: no decision). A throw, or a return value that is not a decision this hook takes,
   * becomes a failure naming the plugin: a malformed "refuse" is never read as consent.
   */
  async emit<K extends HookName>(hook: K, payload: HookPayload<K>): Promise<Decided<K>[]> {
    const out: Decided<K>[] = [];
    for (const { plugin, fn } of this.listeners.get(hook) ?? []) {
      let d: unknown;
      try {
        d = await fn(payload);
      } catch (e) {
        if (e instanceof HoardError) throw new HoardError(e.kind, e.code, `plugin ${plugin} (${hook}): ${e.message}`, { hint: e.hint, details: e.details });
        const msg = String((e as Error)?.message ?? e);
        // a listener written against the old payload mutators (p.refuse(…)): say what changed
        const old = /\b(refuse|reject|expire)\b.*not a function|not a function.*\b(refuse|reject|expire)\b/.test(msg);
        throw failure("plugin_listener", `plugin ${plugin} failed in ${hook}: ${msg}`, old ? `listeners return their decision instead of calling the payload: a ${hook} listener returns ${DECISION_SHAPES[hook]} (see docs/plugins.md, "Hooks")` : undefined);
      }
      if (d === undefined) continue;
      if (!validDecision(hook, d))
        throw failure("plugin_decision", `plugin ${plugin} returned ${describe(d)} from its ${hook} listener, which is not a decision ${hook} takes`, `a ${hook} listener returns ${DECISION_SHAPES[hook]}`);
      out.push({ plugin, decision: d as HookDecision<K> });
    }
    return out;
  }

  destinationType(name: string): AnyDestinationType {
    const t = this.destinationTypes.get(name);
    if (!t) throw configError("unknown_destination_type", `unknown destination type "${name}" (known: ${[...this.destinationTypes.keys()].join(", ")})`);
    return t.type;
  }

  configExtensions() {
    return {
      destinationTypes: new Map([...this.destinationTypes].map(([k, t]) => [k, t.type.schema as GenericSchema])),
      destinationKeys: this.destinationKeys,
      rootKeys: this.rootKeys,
    };
  }
}

const DECISION_SHAPES: Record<HookName, string> = {
  "run:begin": "nothing",
  "run:finish": "nothing",
  "index:finish": "nothing",
  "sync:preflight": "nothing, or { refuse: reason, hint? }",
  "gate:check": "nothing, or { refuse: reason, hint? }",
  "evidence:advance": "nothing, or { reject: reason }",
  "evidence:expiry": "nothing, or { expiresAt: bigint nanoseconds | null, why }",
};

function describe(d: unknown): string {
  try {
    return JSON.stringify(d, (_, x) => (typeof x === "bigint" ? `${x}n` : x))?.slice(0, 120) ?? String(d);
  } catch {
    return typeof d;
  }
}
