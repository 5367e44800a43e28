// Disjoint trees: volumes and local destinations (fs path, local rclone remote, kopia repository) must
// not lie inside one another, literally or through symlinks; overlaps are refused naming both trees.

import { realpathSync } from "node:fs";
import { basename, dirname, isAbsolute, join, resolve, sep } from "node:path";
import { configError } from "../kernel/errors.ts";
import { isTable } from "./issues.ts";
import { display } from "./paths.ts";
import type { HoardConfig } from "./schema.ts";

/** A local directory tree named by the config: a volume, or a destination that lives on a local path. */
export interface LocalTree {
  kind: "volume" | "destination";
  name: string;
  /** The key holding the path: `path` for volumes and fs, `remote` for rclone, `repository` for kopia. */
  key: string;
  /** e.g. `volume "photos"`, `fs destination "nas"`. */
  label: string;
  /** Absolute, normalised as written. */
  path: string;
  /** With symlinks of the existing prefix resolved. */
  real: string;
}

/** realpath of the longest existing prefix, with the rest appended (a tree may not exist yet). */
export function realPrefixPath(p: string): string {
  const rest: string[] = [];
  let cur = resolve(p);
  for (;;) {
    try {
      return rest.length ? join(realpathSync.native(cur), ...rest.reverse()) : realpathSync.native(cur);
    } catch {
      const parent = dirname(cur);
      if (parent === cur) return resolve(p);
      rest.push(basename(cur));
      cur = parent;
    }
  }
}

/** The local path of a destination table (best effort: fs `path`, rclone `/abs` or `:local:/abs`, kopia `repository`). */
export function destinationLocalPath(table: Record<string, unknown>): { key: string; path: string } | undefined {
  const abs = (key: string, p: unknown) => (typeof p === "string" && isAbsolute(p) && !p.includes("\0") ? { key, path: resolve(p) } : undefined);
  switch (table.type) {
    case "fs":
      return abs("path", table.path);
    case "kopia":
      return abs("repository", table.repository);
    case "rclone": {
      const r = table.remote;
      if (typeof r !== "string") return undefined;
      if (r.startsWith("/")) return abs("remote", r);
      const m = /^:local(?:,[^:]*)?:(.*)$/.exec(r);
      return m ? abs("remote", m[1]) : undefined;
    }
    default:
      return undefined;
  }
}

/** Every local tree of a config: volumes (name -> absolute path) and destination tables (with `type`). */
export function localTrees(volumes: Map<string, string> | Record<string, { path: string }>, destinations: Record<string, unknown>): LocalTree[] {
  const out: LocalTree[] = [];
  const vols = volumes instanceof Map ? [...volumes] : Object.entries(volumes).map(([n, vol]) => [n, vol.path] as const);
  for (const [name, p] of vols) if (isAbsolute(p)) out.push({ kind: "volume", name, key: "path", label: `volume ${JSON.stringify(name)}`, path: resolve(p), real: realPrefixPath(p) });
  for (const [name, t] of Object.entries(destinations)) {
    if (!isTable(t)) continue;
    const loc = destinationLocalPath(t);
    if (loc) out.push({ kind: "destination", name, key: loc.key, label: `${String(t.type)} destination ${JSON.stringify(name)}`, path: loc.path, real: realPrefixPath(loc.path) });
  }
  return out;
}

const under = (p: string, root: string) => p !== root && p.startsWith(root.endsWith(sep) ? root : `${root}${sep}`);

/**
 * The overlaps among trees, each reported at one tree (`a`, whose key is at fault) naming the
 * other: volumes inside volumes or local destinations, local destinations inside volumes. Two
 * destinations may share a parent (their identities keep them apart). Literal and real paths both count.
 */
export function treeOverlaps(trees: LocalTree[]): { a: LocalTree; b: LocalTree; message: string }[] {
  const out: { a: LocalTree; b: LocalTree; message: string }[] = [];
  const where = (b: LocalTree, literal: boolean) => (literal ? b.path : `${b.path}, which resolves to ${b.real}`);
  for (const a of trees) {
    let volumeReported = false; // between volumes, one message per volume (the first other one)
    for (const b of trees) {
      if (a === b || (a.kind === "destination" && b.kind === "destination")) continue;
      const bothVolumes = a.kind === "volume" && b.kind === "volume";
      if (bothVolumes && volumeReported) continue;
      const sameLit = a.path === b.path;
      if (sameLit || a.real === b.real) {
        // reported once: at the volume; between two volumes, at the one whose name sorts later
        if (a.kind === "destination" || (bothVolumes && b.name > a.name)) continue;
        out.push({ a, b, message: `is the same directory as ${b.label}${sameLit ? "" : ` (${where(b, false)})`}` });
        volumeReported ||= bothVolumes;
        continue;
      }
      const lit = under(a.path, b.path);
      if (lit || under(a.real, b.real)) {
        out.push({ a, b, message: `is inside ${b.label} (${where(b, lit)})` });
        volumeReported ||= bothVolumes;
      }
    }
  }
  // one message per (tree, other); the volume-volume pass above stops at the first other volume
  const seen = new Set<string>();
  return out.filter((o) => {
    const id = `${o.a.kind}\0${o.a.name}\0${o.b.kind}\0${o.b.name}`;
    return seen.has(id) ? false : (seen.add(id), true);
  });
}

/**
 * Refuse (exit 2, before anything is written) a volume at `path` that would overlap a volume or a
 * local destination of the config, naming both.
 */
export function assertVolumeDisjoint(config: HoardConfig, name: string, path: string): void {
  const vols = new Map(Object.entries(config.volumes).map(([n, vol]) => [n, vol.path] as const));
  vols.set(name, resolve(path));
  const tables = Object.fromEntries(Object.entries(config.destinations).map(([n, d]) => [n, d.table]));
  const bad = treeOverlaps(localTrees(vols, tables)).filter((o) => (o.a.kind === "volume" && o.a.name === name) || (o.b.kind === "volume" && o.b.name === name));
  if (bad.length === 0) return;
  const lines = bad.map((o) => `${o.a.label} at ${o.a.path} ${o.message}`);
  throw configError(
    "trees_overlap",
    `refused: volume ${JSON.stringify(name)} at ${path} would overlap:\n${lines.map((l) => `  ${l}`).join("\n")}`,
    "volumes and local destinations must be disjoint trees (neither inside the other): pick another directory",
    { volume: name, path, overlaps: bad.map((o) => ({ tree: o.a.label, path: o.a.path, other: o.b.label, other_path: o.b.path })) },
  );
}

/** Refuse (exit 2) when the loaded config's trees overlap now (symlinks may have changed since it was written). */
export function assertTreesDisjoint(config: HoardConfig): void {
  const tables = Object.fromEntries(Object.entries(config.destinations).map(([n, d]) => [n, d.table]));
  const bad = treeOverlaps(localTrees(config.volumes, tables));
  if (bad.length === 0) return;
  throw configError(
    "trees_overlap",
    `refused: volumes and destinations of ${display(config.file)} overlap:\n${bad.map((o) => `  ${o.a.label} at ${o.a.path} ${o.message}`).join("\n")}`,
    "volumes and local destinations must be disjoint trees (neither inside the other): fix the paths in the config",
    { overlaps: bad.map((o) => ({ tree: o.a.label, path: o.a.path, other: o.b.label, other_path: o.b.path })) },
  );
}
