// The plugin registry: runs each plugin's setup against a PluginApi, keeps what each registered,
// and emits typed hooks in plugin order (a throwing listener fails the run naming its plugin).

import * as v from "valibot";
import type { GenericSchema } from "valibot";
import {
  API_VERSION,
  type DestinationType,
  type HookMap,
  type HookName,
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
import { parseDuration, formatDuration } from "../config/duration.ts";
import { secret } from "../config/schema.ts";

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
  errors: {
    refused: (c, m, h) => refused(c, m, h),
    failure: (c, m, h) => failure(c, m, h),
    config: (c, m, h) => configError(c, m, h),
  },
};

export class Registry {
  readonly plugins: PluginRecord[] = [];
  readonly destinationTypes = new Map<string, { type: DestinationType; plugin: string }>();
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
        this.destinationTypes.set(t.name, { type: t, plugin: plugin.name });
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

  /** Call every listener of a hook in plugin order; a throw becomes a failure naming the plugin. */
  async emit<K extends HookName>(hook: K, payload: HookMap[K]): Promise<void> {
    for (const { plugin, fn } of this.listeners.get(hook) ?? []) {
      try {
        await fn(payload);
      } catch (e) {
        if (e instanceof HoardError) throw new HoardError(e.kind, e.code, `plugin ${plugin} (${hook}): ${e.message}`, { hint: e.hint, details: e.details });
        throw failure("plugin_listener", `plugin ${plugin} failed in ${hook}: ${(e as Error)?.message ?? e}`);
      }
    }
  }

  destinationType(name: string): DestinationType {
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
