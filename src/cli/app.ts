// Assembling a command's world: resolve config and DB paths, load built-in then third-party
// plugins, validate the config against what they registered, open the DB, build the OpContext.

import { dirname, isAbsolute, resolve } from "node:path";
import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parse as parseToml } from "smol-toml";
import { Registry } from "../kernel/registry.ts";
import { openDb, type Db } from "../kernel/db.ts";
import { configError } from "../kernel/errors.ts";
import { loadConfig, readConfigText, resolveConfigPath, resolveDbPath } from "../config/load.ts";
import type { HoardConfig } from "../config/schema.ts";
import type { Plugin } from "../kernel/plugin.ts";
import type { OpContext } from "../ops/context.ts";
import { makeLogger, makeProgress } from "./output.ts";
import fsPlugin from "../../plugins/fs/index.ts";
import policyPlugin from "../../plugins/policy/index.ts";
import { extraBuiltins } from "./builtins.ts";

export interface GlobalArgs {
  config?: string;
  db?: string;
  json?: boolean;
  quiet?: boolean;
}

export const BUILTIN_PLUGINS: Plugin[] = [fsPlugin, policyPlugin, ...extraBuiltins];

/** Third-party plugin paths from the config text (read before full validation needs their schemas). */
function pluginPaths(text: string | undefined, file: string): string[] {
  if (!text) return [];
  let raw: any;
  try {
    raw = parseToml(text);
  } catch {
    return []; // the full parse reports the syntax error
  }
  if (!Array.isArray(raw?.plugins)) return [];
  return raw.plugins.filter((p: unknown) => typeof p === "string").map((p: string) => (isAbsolute(p) ? p : resolve(dirname(file), p)));
}

export async function loadRegistry(configFile: string, text: string | undefined): Promise<Registry> {
  const reg = new Registry();
  for (const p of BUILTIN_PLUGINS) reg.register(p);
  for (const path of pluginPaths(text, configFile)) {
    if (!existsSync(path)) throw configError("plugin_missing", `plugin file ${path} does not exist (listed in plugins in ${configFile})`, "fix the path (relative paths are resolved from the config file's directory)");
    let mod: any;
    try {
      mod = await import(pathToFileURL(path).href);
    } catch (e) {
      const msg = String((e as Error)?.message ?? e);
      const pkgMissing = /cannot find (module|package)|module not found|could not resolve/i.test(msg);
      throw configError("plugin_load", `plugin ${path} failed to load: ${msg}`, pkgMissing ? "a plugin gets everything it needs through api (api.v is valibot, api.util the helpers); it cannot import npm packages, not even hoard's bundled ones" : "fix the error in the plugin file, or remove it from `plugins` in the config");
    }
    if (!mod?.default) {
      const names = Object.keys(mod ?? {});
      throw configError("plugin_no_default", `plugin ${path} has no default export${names.length ? ` (it exports ${names.join(", ")})` : ""}`, "export default { name, apiVersion: 1, setup(api) { … } } (see docs/plugins.md)");
    }
    reg.register(mod.default, path);
  }
  return reg;
}

export interface App {
  ctx: OpContext;
  config: HoardConfig;
  configFile: string;
  dbPath: string;
  close(): void;
}

export async function openApp(g: GlobalArgs, argv: string[], opts: { requireConfig?: boolean } = {}): Promise<App> {
  const configFile = resolveConfigPath(g.config);
  const text = readConfigText(configFile);
  const registry = await loadRegistry(configFile, text);
  const config = loadConfig(configFile, registry.configExtensions(), { required: opts.requireConfig ?? false });
  const dbPath = resolveDbPath(g.db, config);
  const db: Db = openDb(dbPath);
  const ctx: OpContext = {
    db,
    config,
    registry,
    node: config.node,
    log: makeLogger(!!g.quiet),
    progress: makeProgress(!!g.quiet || !!g.json),
    argv,
    dataDir: dirname(dbPath),
  };
  return { ctx, config, configFile, dbPath, close: () => db.close() };
}
