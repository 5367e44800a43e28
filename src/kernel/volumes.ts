// Volume identity: the config path, the path recorded in the DB and the `.hoard-volume` marker
// must agree before any run touches a volume. One function checks all three; every run calls it.

import { existsSync, lstatSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { randomUUID } from "node:crypto";
import type { Db } from "./db.ts";
import { configError, refused, usageError } from "./errors.ts";
import { nowNs } from "./runtime.ts";
import { writeFileAtomicSync } from "./atomic.ts";

export const VOLUME_MARKER = ".hoard-volume";
export const RESERVED_DIR = ".hoard";

export interface VolumeMarker {
  volume: string;
  id: string;
  created_at: string;
}

export interface VolumeRow {
  name: string;
  path: string;
  created_at: bigint;
  updated_at: bigint;
}

export function readMarker(root: string): VolumeMarker | undefined | "unreadable" {
  const p = join(root, VOLUME_MARKER);
  if (!existsSync(p)) return undefined;
  try {
    const m = JSON.parse(readFileSync(p, "utf8"));
    if (typeof m?.volume !== "string") return "unreadable";
    return m as VolumeMarker;
  } catch {
    return "unreadable";
  }
}

export function writeMarker(root: string, volume: string): VolumeMarker {
  const m: VolumeMarker = { volume, id: randomUUID(), created_at: new Date().toISOString() };
  const p = join(root, VOLUME_MARKER);
  writeFileAtomicSync(p, JSON.stringify(m, null, 2) + "\n", { bestEffortDirSync: true });
  return m;
}

export function getVolume(db: Db, name: string): VolumeRow | undefined {
  return db.get<VolumeRow>("SELECT * FROM volumes WHERE name = ?", name);
}
export function listVolumes(db: Db): VolumeRow[] {
  return db.all<VolumeRow>("SELECT * FROM volumes ORDER BY name");
}
export function recordVolume(db: Db, name: string, path: string): void {
  const now = nowNs();
  db.run(
    "INSERT INTO volumes(name, path, created_at, updated_at) VALUES (?,?,?,?) ON CONFLICT(name) DO UPDATE SET path = excluded.path, updated_at = excluded.updated_at",
    name, path, now, now,
  );
}

export type IdentityProblem =
  | { code: "volume_not_in_config" }
  | { code: "volume_not_recorded" }
  | { code: "volume_path_mismatch"; config: string; db: string }
  | { code: "volume_dir_missing"; path: string }
  | { code: "volume_marker_missing"; path: string }
  | { code: "volume_marker_unreadable"; path: string }
  | { code: "volume_marker_other"; path: string; names: string };

/** Pure-ish decision over the three facts (config path, DB path, marker). */
export function volumeIdentityProblem(name: string, configPath: string | undefined, dbPath: string | undefined, marker: VolumeMarker | undefined | "unreadable", dirExists: boolean): IdentityProblem | undefined {
  if (configPath === undefined) return { code: "volume_not_in_config" };
  if (dbPath === undefined) return { code: "volume_not_recorded" };
  if (resolve(configPath) !== resolve(dbPath)) return { code: "volume_path_mismatch", config: configPath, db: dbPath };
  if (!dirExists) return { code: "volume_dir_missing", path: configPath };
  if (marker === undefined) return { code: "volume_marker_missing", path: configPath };
  if (marker === "unreadable") return { code: "volume_marker_unreadable", path: configPath };
  if (marker.volume !== name) return { code: "volume_marker_other", path: configPath, names: marker.volume };
  return undefined;
}

/** The three-way check every run kind calls. Returns the volume root, or throws a refusal (exit 3). */
export function checkVolumeIdentity(db: Db, volumes: Record<string, { path: string }>, name: string): string {
  const configPath = volumes[name]?.path;
  if (configPath === undefined)
    throw usageError("unknown_volume", `unknown volume ${name}: it is not declared in the config`, `declare it with \`hoard volume add ${name} PATH\`` + (Object.keys(volumes).length ? ` (known: ${Object.keys(volumes).join(", ")})` : ""));
  const row = getVolume(db, name);
  let isDir = false;
  try {
    isDir = lstatSync(configPath).isDirectory();
  } catch {}
  const problem = volumeIdentityProblem(name, configPath, row?.path, isDir ? readMarker(configPath) : undefined, isDir);
  if (!problem) return configPath;
  const msg = (m: string, hint: string) => refused(problem.code, `refused: volume ${name}: ${m}`, hint, { volume: name, ...problem });
  switch (problem.code) {
    case "volume_not_in_config":
      throw configError("unknown_volume", `unknown volume ${name}`);
    case "volume_not_recorded":
      throw msg(`declared in the config but never added to the database`, `run \`hoard volume add ${name} ${configPath}\``);
    case "volume_path_mismatch":
      throw msg(`the config says ${problem.config} but the database recorded ${problem.db}`, `if the volume really moved, run \`hoard volume add ${name} ${problem.config} --relocate\`; otherwise fix the path in the config`);
    case "volume_dir_missing":
      throw msg(`${problem.path} is not a directory (unmounted or moved?)`, `mount or restore the directory, or fix volumes.${name}.path in the config`);
    case "volume_marker_missing":
      throw msg(`${problem.path} has no ${VOLUME_MARKER} marker (unmounted, or a different directory?)`, `if this really is volume ${name}, run \`hoard volume add ${name} ${problem.path}\` to write the marker`);
    case "volume_marker_unreadable":
      throw msg(`the ${VOLUME_MARKER} marker at ${problem.path} cannot be read`, `inspect ${join(problem.path, VOLUME_MARKER)}`);
    case "volume_marker_other":
      throw msg(`the marker at ${problem.path} names volume ${problem.names}, not ${name}`, `check volumes.${name}.path in the config: it points at another volume`);
  }
}
