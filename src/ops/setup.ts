// Setup without hand-editing: `init`, and `dest add`, `volume add --sync-to/--require`, `volume rm` as
// config edits validated before anything is written; and the volumes the DB still tracks but the config dropped.

import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { configError, refused, usageError } from "../kernel/errors.ts";
import { dbIsEmpty, mkdirPrivate, openDb, SCHEMA_VERSION } from "../kernel/db.ts";
import { nodeKey } from "../kernel/keys.ts";
import { sanitisedHostname } from "../kernel/runtime.ts";
import { listVolumes } from "../kernel/volumes.ts";
import { countByStatus } from "../kernel/files.ts";
import { openAlarms } from "../kernel/alarms.ts";
import { parseConfig } from "../config/load.ts";
import { readConfigText } from "../config/paths.ts";
import { appendTableToConfigText, removeTableFromConfigText, tomlString, tomlValueText, writeFileAtomic, writeNewPrivateFile } from "../config/edit.ts";
import { starterConfig } from "../config/starter.ts";
import type { HoardConfig } from "../config/schema.ts";
import type { Registry } from "../kernel/registry.ts";
import type { OpContext } from "./context.ts";

export interface InitResult {
  config: string;
  db: string;
  schema_version: number;
  key: { public_key: string; fingerprint: string };
}

/** Write a commented starter config and create the database and this node's key; never overwrites either. */
export function init(file: string, dbPath: string, node: string | undefined): InitResult {
  if (existsSync(file)) throw refused("config_exists", `refused: ${file} already exists; hoard init never overwrites a config`, "edit it, or pass --config to write a new one elsewhere");
  if (existsSync(dbPath) && !dbIsEmpty(dbPath)) throw refused("db_exists", `refused: database ${dbPath} already exists; hoard init never overwrites it`, "pass --db to create a new one elsewhere");
  mkdirPrivate(dirname(file));
  writeNewPrivateFile(file, starterConfig({ node: node ?? sanitisedHostname(), db: dbPath }));
  openDb(dbPath).close();
  const key = nodeKey(dirname(dbPath)); // the key this node signs its catalogs with
  return { config: file, db: dbPath, schema_version: SCHEMA_VERSION, key: { public_key: key.publicKey, fingerprint: key.fingerprint } };
}

/** This node's signing key, kept in the data directory (created there if there is none yet). */
export function keyShow(dataDir: string): { public_key: string; fingerprint: string } {
  if (!existsSync(dataDir)) throw refused("no_data_dir", `refused: hoard's data directory ${dataDir} does not exist`, "run `hoard init` first (or pass --db)");
  const key = nodeKey(dataDir);
  return { public_key: key.publicKey, fingerprint: key.fingerprint };
}

/** The config text that must exist before hoard edits it. */
export function configTextOrThrow(file: string): string {
  const text = readConfigText(file);
  if (text === undefined) throw configError("config_missing", `config ${file} does not exist`, "run `hoard init` first (or pass --config)");
  return text;
}

/** Parse and validate edited config text exactly as every command will load it (exit 2 when invalid; nothing written). */
export function validateEdit(text: string, file: string, registry: Registry): HoardConfig {
  return parseConfig(text, file, registry.configExtensions());
}

/** `a,b , c` → ["a", "b", "c"] (empty entries dropped). */
export function nameList(s: string | undefined): string[] | undefined {
  if (s === undefined) return undefined;
  return s.split(",").map((x) => x.trim()).filter(Boolean);
}

const arrayText = (names: readonly string[]) => `[${names.map(tomlString).join(", ")}]`;

/** KEY=VALUE words → [key, TOML value text]; `type` comes from --type only. */
export function keyValues(words: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  const seen = new Set<string>();
  for (const w of words) {
    const eq = w.indexOf("=");
    const key = eq > 0 ? w.slice(0, eq) : "";
    if (!/^[A-Za-z0-9_-]+$/.test(key)) throw usageError("bad_key_value", `${JSON.stringify(w)} is not KEY=VALUE`, "e.g. path=/mnt/nas/hoard, remote=b2:bucket/hoard, password='{ env = \"KOPIA_PASSWORD\" }'");
    if (key === "type") throw usageError("bad_key_value", "give the destination type with --type, not type=", "e.g. hoard dest add nas --type fs path=/mnt/nas/hoard");
    if (seen.has(key)) throw usageError("bad_key_value", `${key} is given twice`);
    seen.add(key);
    out.push([key, tomlValueText(w.slice(eq + 1))]);
  }
  return out;
}

export interface DestAddResult {
  destination: string;
  type: string;
  config: string;
  keys: string[];
}

/** Append [destinations.NAME] (type and KEY=VALUE pairs), after validating the whole resulting config. */
export function destAdd(file: string, registry: Registry, name: string, type: string | undefined, words: readonly string[]): DestAddResult {
  if (!type) throw usageError("missing_option", "dest add needs --type", `types: ${[...registry.configExtensions().destinationTypes.keys()].sort().join(", ")}`);
  const text = configTextOrThrow(file);
  const pairs = keyValues(words);
  const next = appendTableToConfigText(text, "destinations", name, [["type", tomlString(type)], ...pairs]);
  validateEdit(next, file, registry); // an invalid result is a config error (exit 2): nothing written
  writeFileAtomic(file, next);
  return { destination: name, type, config: file, keys: pairs.map(([k]) => k) };
}

/**
 * The text `volume add NAME PATH --sync-to … --require …` writes (undefined: no flags, the plain
 * table is written as before), validated. A volume already declared must already say the same.
 */
export function volumeAddText(file: string, text: string, registry: Registry, name: string, path: string, syncTo: string[] | undefined, require: string[] | undefined, exclude: string[] = []): string | undefined {
  if (syncTo === undefined && require === undefined && exclude.length === 0) return undefined;
  const current = validateEdit(text, file, registry);
  const declared = current.volumes[name];
  if (declared) {
    const same = (a: string[] | undefined, b: string[]) => a === undefined || (a.length === b.length && a.every((x, i) => x === b[i]));
    if (same(syncTo, declared.sync_to) && same(require, declared.offload_requires) && same(exclude.length ? exclude : undefined, declared.exclude)) return undefined;
    throw refused("volume_declared_differently", `refused: volume ${name} is already declared with sync_to = ${arrayText(declared.sync_to)}, offload_requires = ${arrayText(declared.offload_requires)}, exclude = ${arrayText(declared.exclude)}`, `change [volumes.${name}] in ${file}, or \`hoard volume rm ${name}\` and add it again`);
  }
  const entries: [string, string][] = [["path", tomlString(path)]];
  // a required destination is synced too: sync_to defaults to the required ones
  entries.push(["sync_to", arrayText(syncTo ?? require ?? [])]);
  if (require !== undefined) entries.push(["offload_requires", arrayText(require)]);
  if (exclude.length) entries.push(["exclude", arrayText(exclude)]); // checked with the whole config below
  const next = appendTableToConfigText(text, "volumes", name, entries);
  validateEdit(next, file, registry);
  return next;
}

export interface VolumeRmResult {
  volume: string;
  config: string;
  offloaded: { files: number; bytes: number };
  alarms: number;
  forgotten: boolean;
}

/** Remove [volumes.NAME] from the config; refused while it has offloaded files unless forgetOffloaded. The DB keeps everything. */
export function volumeRm(ctx: OpContext, file: string, registry: Registry, name: string, forgetOffloaded: boolean): VolumeRmResult {
  if (!ctx.config.volumes[name]) throw usageError("unknown_volume", `volume ${name} is not in the config`, `known volumes: ${Object.keys(ctx.config.volumes).join(", ") || "none"}`);
  const off = countByStatus(ctx.db, name).find((c) => c.status === "offloaded");
  const offloaded = { files: Number(off?.files ?? 0), bytes: Number(off?.bytes ?? 0) };
  const alarms = openAlarms(ctx.db, name).length;
  if (offloaded.files > 0 && !forgetOffloaded)
    throw refused(
      "volume_has_offloaded",
      `refused: volume ${name} has ${offloaded.files} offloaded file${offloaded.files === 1 ? "" : "s"} (${offloaded.bytes} bytes) whose only copies are at its destinations; nothing was changed`,
      `restore them first (\`hoard restore ${name}\`), or remove it anyway with --forget-offloaded (the database keeps their records and \`hoard status\` keeps reporting them)`,
      { offloaded_files: offloaded.files, offloaded_bytes: offloaded.bytes },
    );
  const text = configTextOrThrow(file);
  const next = removeTableFromConfigText(text, "volumes", name);
  validateEdit(next, file, registry);
  writeFileAtomic(file, next);
  return { volume: name, config: file, offloaded, alarms, forgotten: offloaded.files > 0 };
}

export interface OrphanVolume {
  volume: string;
  path: string;
  in_config: false;
  files: Record<string, { files: number; bytes: number }>;
  offloaded: { files: number; bytes: number };
  alarms: number;
}

/** Volumes the DB still tracks, absent from the config, that hold offloaded files or open alarms. */
export function orphanedVolumes(ctx: OpContext): OrphanVolume[] {
  const out: OrphanVolume[] = [];
  for (const v of listVolumes(ctx.db)) {
    if (ctx.config.volumes[v.name]) continue;
    const files = Object.fromEntries(countByStatus(ctx.db, v.name).map((c) => [c.status, { files: Number(c.files), bytes: Number(c.bytes) }]));
    const offloaded = files.offloaded ?? { files: 0, bytes: 0 };
    const alarms = openAlarms(ctx.db, v.name).length;
    if (offloaded.files > 0 || alarms > 0) out.push({ volume: v.name, path: v.path, in_config: false, files, offloaded, alarms });
  }
  return out;
}

/** The `status --check` problem of an orphaned volume. */
export function orphanProblem(o: OrphanVolume) {
  return {
    volume: o.volume,
    destination: null,
    code: "volume_not_in_config" as const,
    message: `volume ${o.volume} (${o.path}) is not in the config but has ${o.offloaded.files} offloaded file${o.offloaded.files === 1 ? "" : "s"}${o.alarms ? ` and ${o.alarms} open alarm${o.alarms === 1 ? "" : "s"}` : ""}: nothing monitors them`,
    hint: `add it back (\`hoard volume add ${o.volume} ${o.path}\` with its sync_to and offload_requires) and restore or sync it`,
  };
}
