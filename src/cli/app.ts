// Assembling a command's world: resolve config and DB paths, load built-in then third-party plugins,
// validate the config, refuse a missing DB the config implies, open it (or, read-only, an empty one).

import { dirname, isAbsolute, join, resolve } from "node:path";
import { existsSync, lstatSync, statSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { parse as parseToml } from "smol-toml";
import { Registry } from "../kernel/registry.ts";
import { Db, migrate, openDb } from "../kernel/db.ts";
import { openSqlite } from "../kernel/runtime.ts";
import { configError, refused } from "../kernel/errors.ts";
import { VOLUME_MARKER } from "../kernel/volumes.ts";
import { loadConfig } from "../config/load.ts";
import { readConfigText, resolveConfigPath, resolveDbPath } from "../config/paths.ts";
import type { HoardConfig } from "../config/schema.ts";
import type { OpContext } from "../ops/context.ts";
import { makeLogger, makeProgress } from "./output.ts";
import { BUILTIN_PLUGINS } from "./builtins.ts";

export interface GlobalArgs {
  config?: string;
  db?: string;
  json?: boolean;
  quiet?: boolean;
}

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

export interface OpenOptions {
  requireConfig?: boolean;
  /** Checks on the loaded config before the DB is opened or created: a refusal here writes nothing. */
  precheck?: (config: HoardConfig) => void;
  /** May this command create a missing DB although the config declares volumes? (default: no) */
  mayCreateDb?: (config: HoardConfig) => boolean;
}

/** The refusal when the DB the config implies is not there (never silently re-created). */
export function dbMissing(dbPath: string) {
  return refused(
    "db_missing",
    `database ${dbPath} is missing: was it on an unmounted disk? restore it, or \`hoard recover\``,
    "nothing was created; mount or restore the database (or pass --db). Only a brand-new setup (every declared volume directory present, none with a .hoard-volume marker) starts a new one, with `hoard volume add`",
    { db: dbPath },
  );
}

/**
 * A brand-new setup: every declared volume's directory (and each of `also`) is there, and none
 * carries a .hoard-volume marker, so no DB ever recorded them (a missing directory may be an
 * unmounted disk: not brand-new).
 */
export function noVolumeEverAdded(config: HoardConfig, also: string[] = []): boolean {
  const roots = [...Object.values(config.volumes).map((v) => v.path), ...also];
  return roots.every((root) => {
    try {
      if (!statSync(root).isDirectory()) return false;
      lstatSync(join(root, VOLUME_MARKER));
      return false;
    } catch (e) {
      return (e as NodeJS.ErrnoException)?.code === "ENOENT" && existsSync(root);
    }
  });
}

export async function openApp(g: GlobalArgs, argv: string[], opts: OpenOptions = {}): Promise<App> {
  const configFile = resolveConfigPath(g.config);
  const text = readConfigText(configFile);
  const registry = await loadRegistry(configFile, text);
  const config = loadConfig(configFile, registry.configExtensions(), { required: opts.requireConfig ?? false });
  const dbPath = resolveDbPath(g.db, config);
  opts.precheck?.(config);
  // the DB is the map of what was offloaded: a config with volumes implies one exists
  if (!existsSync(dbPath) && Object.keys(config.volumes).length > 0 && !(opts.mayCreateDb?.(config) ?? false)) throw dbMissing(dbPath);
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

/** Open the app for a command, run fn, always close the DB. */
export async function withApp<T>(args: GlobalArgs, fn: (app: App) => Promise<T>, opts: OpenOptions = {}): Promise<T> {
  const app = await openApp(args, process.argv.slice(2), opts);
  app.ctx.log.debug(`config ${app.configFile}, database ${app.dbPath}, node ${app.ctx.node}`); // shown with -v
  try {
    return await fn(app);
  } finally {
    app.close();
  }
}

/** Thrown from openApp's precheck: no DB yet and nothing that implies one. */
class NoDbYet extends Error {
  constructor(readonly config: HoardConfig, readonly dbPath: string) {
    super("no database yet");
  }
}

/**
 * Open the world for a read-only command (status, runs, evidence, dests, volumes, plugins, ls). With
 * no DB yet and no volume declared, it reads an empty in-memory one: nothing is created on disk. A
 * config declaring volumes without its DB is refused as everywhere (db_missing, exit 3).
 */
export async function withReadApp<T>(args: GlobalArgs, fn: (app: App) => Promise<T>): Promise<T> {
  let app: App;
  try {
    app = await openApp(args, process.argv.slice(2), {
      precheck: (config) => {
        const dbPath = resolveDbPath(args.db, config);
        if (!existsSync(dbPath) && Object.keys(config.volumes).length === 0) throw new NoDbYet(config, dbPath);
      },
    });
  } catch (e) {
    if (!(e instanceof NoDbYet)) throw e;
    const configFile = resolveConfigPath(args.config);
    const registry = await loadRegistry(configFile, readConfigText(configFile));
    const db = new Db(":memory:", openSqlite(":memory:"));
    migrate(db);
    app = {
      ctx: { db, config: e.config, registry, node: e.config.node, log: makeLogger(!!args.quiet), progress: makeProgress(true), argv: process.argv.slice(2), dataDir: dirname(e.dbPath) },
      config: e.config,
      configFile,
      dbPath: e.dbPath,
      close: () => db.close(),
    };
  }
  try {
    return await fn(app);
  } finally {
    app.close();
  }
}
