// `volume add` as a workflow (checked before anything is opened, then marker, recorded path and config
// table written, each only when missing) and the volumes list (config, database and marker side by side).

import { statSync } from "node:fs";
import { resolve } from "node:path";
import { refused, usageError } from "../kernel/errors.ts";
import { getVolume, listVolumes, readMarker, recordVolume, writeMarker } from "../kernel/volumes.ts";
import type { Registry } from "../kernel/registry.ts";
import { assertVolumeDisjoint } from "../config/trees.ts";
import { addVolumeToConfigText, writeFileAtomic } from "../config/edit.ts";
import type { HoardConfig } from "../config/schema.ts";
import { configTextOrThrow, nameList, volumeAddText } from "./setup.ts";
import type { OpContext } from "./context.ts";

export interface VolumeAddRequest {
  name: string;
  /** As given (resolved against the current directory). */
  path: string;
  relocate: boolean;
  syncTo?: string;
  require?: string;
  exclude: string[];
}

/** A `volume add` checked before anything is opened or written. */
export interface VolumeAddPlan {
  name: string;
  path: string;
  file: string;
  text: string;
  /** The config text with the table the flags describe, validated (undefined: the plain table). */
  flagged: string | undefined;
  relocate: boolean;
}

/** Check the name, the directory and the config (and the flags' table, with the registry loaded for it). */
export async function planVolumeAdd(file: string, req: VolumeAddRequest, loadRegistry: (text: string) => Promise<Registry>): Promise<VolumeAddPlan> {
  const name = req.name;
  const path = resolve(req.path);
  if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(name)) throw usageError("bad_volume_name", `bad volume name ${JSON.stringify(name)}`, "use lower-case letters, digits, . _ - (up to 64)");
  let st;
  try {
    st = statSync(path);
  } catch {
    throw usageError("volume_path_missing", `${path} does not exist`, "create the directory first");
  }
  if (!st.isDirectory()) throw usageError("volume_not_dir", `${path} is not a directory`);
  const text = configTextOrThrow(file);
  const flags = req.syncTo !== undefined || req.require !== undefined || req.exclude.length > 0;
  const flagged = flags ? volumeAddText(file, text, await loadRegistry(text), name, path, nameList(req.syncTo), nameList(req.require), req.exclude) : undefined;
  return { name, path, file, text, flagged, relocate: req.relocate };
}

/** On the loaded config, before the DB is opened or created: overlapping trees are refused (nothing written). */
export function volumeAddPrecheck(plan: VolumeAddPlan, config: HoardConfig): void {
  const d = config.volumes[plan.name];
  const mismatch = d !== undefined && resolve(d.path) !== plan.path;
  const taken = Object.entries(config.volumes).some(([o, v]) => o !== plan.name && resolve(v.path) === plan.path);
  if (!mismatch && !taken) assertVolumeDisjoint(config, plan.name, plan.path); // those two are refused by volumeAdd (exit 3), naming the volume
}

export interface VolumeAddResult {
  volume: string;
  path: string;
  actions: string[];
}

/** Write what is missing of config table, marker and recorded path; refuse any disagreement. */
export function volumeAdd(ctx: OpContext, plan: VolumeAddPlan): VolumeAddResult {
  const { name, path, file } = plan;
  const declared = ctx.config.volumes[name];
  const actions: string[] = [];
  if (declared && resolve(declared.path) !== path)
    throw refused("volume_path_mismatch", `refused: volume ${name} is declared in the config with path ${declared.path}, not ${path}`, `fix volumes.${name}.path in ${file}, or use another name`);
  const marker = readMarker(path);
  if (marker === "unreadable") throw refused("volume_marker_unreadable", `refused: ${path}/.hoard-volume exists but cannot be read`, "inspect or remove it");
  if (marker && marker.volume !== name) throw refused("volume_marker_other", `refused: ${path} is already volume ${marker.volume}`, `use \`hoard volume add ${marker.volume} ${path}\``);
  for (const [other, v] of Object.entries(ctx.config.volumes))
    if (other !== name && resolve(v.path) === path) throw refused("volume_path_taken", `refused: ${path} is already volume ${other} in the config`);
  const row = getVolume(ctx.db, name);
  if (row && resolve(row.path) !== path && !plan.relocate)
    throw refused("volume_path_mismatch", `refused: the database recorded volume ${name} at ${row.path}`, `if it really moved, run \`hoard volume add ${name} ${path} --relocate\``);
  if (!declared) {
    writeFileAtomic(file, plan.flagged ?? addVolumeToConfigText(plan.text, name, path));
    actions.push(`added [volumes.${name}] to ${file}`);
  }
  if (!marker) {
    writeMarker(path, name);
    actions.push(`wrote ${path}/.hoard-volume`);
  }
  if (!row || row.path !== path) {
    recordVolume(ctx.db, name, path);
    actions.push(row ? `recorded new path (was ${row.path})` : "recorded in the database");
  }
  if (!actions.length) actions.push("already added; nothing to do");
  return { volume: name, path, actions };
}

export interface VolumeListEntry {
  name: string;
  config_path: string | null;
  db_path: string | null;
  marker: string;
  sync_to: string[];
  offload_requires: string[];
}

/** Every volume of the config or the database: both paths and what its marker says. */
export function volumeList(ctx: OpContext): VolumeListEntry[] {
  const rows = listVolumes(ctx.db);
  const names = [...new Set([...Object.keys(ctx.config.volumes), ...rows.map((r) => r.name)])].sort();
  return names.map((n) => {
    const c = ctx.config.volumes[n];
    const r = rows.find((x) => x.name === n);
    const m = c ? readMarker(c.path) : undefined;
    return {
      name: n,
      config_path: c?.path ?? null,
      db_path: r?.path ?? null,
      marker: m === undefined ? "missing" : m === "unreadable" ? "unreadable" : m.volume === n ? "ok" : `names ${m.volume}`,
      sync_to: c?.sync_to ?? [],
      offload_requires: c?.offload_requires ?? [],
    };
  });
}
