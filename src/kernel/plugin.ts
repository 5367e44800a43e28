// The public plugin API: the plugin shape and its registration api, re-exporting the destination
// handler contract, the hook map and api.util. Plugins (built-in and third-party) import only its types.

import type { GenericSchema, InferOutput } from "valibot";
import type * as v from "valibot";
import type { DestinationType } from "./plugin-handler.ts";
import type { HookName, Listener } from "./plugin-hooks.ts";
import type { PluginUtil } from "./plugin-util.ts";

export type * from "./plugin-handler.ts";
export type * from "./plugin-hooks.ts";
export type * from "./plugin-util.ts";

export const API_VERSION = 1;

export interface PolicyInfo {
  name: string;
  description: string;
}

export interface PluginApi {
  readonly apiVersion: number;
  /** Register a destination type (`type = "NAME"` in config); `open`'s options are inferred from `schema`. */
  destination<S extends GenericSchema>(type: DestinationType<S>): void;
  /** Register a policy (for listing); its behaviour comes from its hook listeners. */
  policy(info: PolicyInfo): void;
  /** Listen to a hook. Listeners run in plugin order. */
  on<K extends HookName>(hook: K, listener: Listener<K>): void;
  /**
   * Allow an extra key on every [destinations.X] table, or at the top level of the config, validated
   * by `schema`. Returns a typed accessor for the validated value in a listener's `table` / `config`.
   */
  configKey<S extends GenericSchema>(scope: "destination" | "root", key: string, schema: S): ConfigKey<InferOutput<S>>;
  /** valibot, so plugins loaded from disk need no bundled packages of their own. */
  readonly v: typeof v;
  /** Helpers plugins commonly need. */
  readonly util: PluginUtil;
}

/** A registered config key: reads its validated value (undefined when the table does not set it). */
export interface ConfigKey<T> {
  readonly key: string;
  get(table: Readonly<Record<string, unknown>>): T | undefined;
}

/**
 * A plugin: a plain object, the default export of its file. `setup` only registers (destination
 * types, policies, listeners, config keys), synchronously, once at start-up; the work happens in
 * what it registered.
 */
export interface Plugin {
  name: string;
  apiVersion: number;
  setup(api: PluginApi): void;
}
