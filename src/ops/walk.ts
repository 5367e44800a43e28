// Walking a volume tree: yields regular files with their lstat facts and reports everything else (symlinks,
// devices, unreadable directories, names that are not valid UTF-8, hoard's own temp files), never silently;
// only what the volume's exclude patterns name is skipped without a word (an excluded directory is not entered).

import { readdirSync, lstatSync, type BigIntStats, type Stats } from "node:fs";
import { join } from "node:path";
import { AnchorError, type Dir } from "../kernel/anchored.ts";
import { RESERVED_DIR, VOLUME_MARKER } from "../kernel/volumes.ts";

export interface WalkFile {
  rel: string; // "/"-separated, relative to the root
  abs: string;
  size: number;
  /** Exact nanoseconds when `exact`; otherwise microsecond precision (from a float lstat). */
  mtimeNs: bigint;
  ino: bigint;
  /** The device of the walked inode: with ino, what a later open must find again. */
  dev: bigint;
  exact: boolean;
}
export interface WalkProblem {
  rel: string;
  kind: "symlink" | "special" | "unreadable" | "bad_name" | "reserved_name";
  message: string;
  /** errors make the index partial; skips (symlinks, devices) are reported but expected. */
  error: boolean;
}

/** Prefixes of hoard's own temp names: a restore's temp, an offload's moved-aside file, an fs destination's temp. */
const TEMP_PREFIX = /^\.hoard-(restore|offload|tmp)-/;
/** The exact temp names hoard makes (prefix + a random UUID): leftovers of an interrupted run. */
const TEMP_NAME = /^\.hoard-(restore|offload|tmp)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export type LeftoverKind = "restore" | "offload" | "tmp";
/** Which of hoard's temp files `name` is, if it is one. */
export const leftoverKind = (name: string): LeftoverKind | undefined => (TEMP_NAME.exec(name)?.[1] as LeftoverKind | undefined) ?? undefined;

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true });

/** Names in a directory that are not valid UTF-8 (Node shows them with U+FFFD). */
function badNames(dir: string): Set<string> {
  const out = new Set<string>();
  for (const raw of readdirSync(dir, { encoding: "buffer" }) as unknown as Buffer[]) {
    try {
      fatalUtf8.decode(raw);
    } catch {
      out.add(raw.toString("utf8"));
    }
  }
  return out;
}

const escapeName = (s: string) => JSON.stringify(s).slice(1, -1);

/**
 * Walk the tree below the handle `top`, through anchored handles only. With `exact` false the per-file
 * lstat is the cheaper float one (mtime to the microsecond): enough to decide "unchanged" in a shallow
 * index, never recorded as is. hoard's own temp files are never yielded: exact temp names go to
 * `onLeftover` (for removal), other names with a temp prefix are reported as reserved.
 */
export function walk(
  top: Dir,
  onFile: (f: WalkFile) => void,
  onProblem: (p: WalkProblem) => void,
  exact = true,
  onLeftover?: (rel: string, kind: LeftoverKind) => void,
  /** The volume's exclude patterns: a matching entry is neither yielded nor reported, a matching directory not descended. */
  exclude?: (rel: string, isDir: boolean) => boolean,
): void {
  const root = top.path;
  // depth-first, one open handle per level: each directory is opened from its parent's handle
  // (never by path, never through a symlink), so a parent swapped for a link mid-walk cannot lead outside
  const frames: { dir: Dir; rel: string; subdirs: string[] }[] = [];
  const visit = (dir: Dir, relDir: string) => frames.push({ dir, rel: relDir, subdirs: listDir(dir, relDir) });
  const listDir = (dir: Dir, relDir: string): string[] => {
    const subdirs: string[] = [];
    const here = `/proc/self/fd/${dir.fd}`;
    let names: { name: string; isDir: boolean; isFile: boolean; isLink: boolean }[];
    try {
      names = readdirSync(here, { withFileTypes: true }).map((d) => ({ name: d.name, isDir: d.isDirectory(), isFile: d.isFile(), isLink: d.isSymbolicLink() }));
    } catch (e: any) {
      onProblem({ rel: relDir || ".", kind: "unreadable", message: `cannot read directory: ${e.code ?? e.message}`, error: true });
      return subdirs;
    }
    const bad = names.some((n) => n.name.includes("\uFFFD")) ? badNames(here) : undefined;
    names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const n of names) {
      const rel = relDir ? `${relDir}/${n.name}` : n.name;
      if (!relDir && (n.name === VOLUME_MARKER || n.name === RESERVED_DIR)) continue;
      // excluded: skipped silently (hoard's own temp leftovers are still found and removed)
      if (exclude && !TEMP_PREFIX.test(n.name) && exclude(rel, n.isDir)) continue;
      if (bad?.has(n.name)) {
        onProblem({ rel, kind: "bad_name", message: `name is not valid UTF-8 (${escapeName(rel)}); rename it to index it`, error: true });
        continue;
      }
      if (n.name.includes("\n") || n.name.includes("\r")) {
        onProblem({ rel, kind: "bad_name", message: `name contains a line break (${escapeName(rel)}); rename it to index it`, error: true });
        continue;
      }
      if (TEMP_PREFIX.test(n.name)) {
        const kind = leftoverKind(n.name);
        if (kind) onLeftover?.(rel, kind);
        else onProblem({ rel, kind: "reserved_name", message: `the name prefix ${n.name.slice(0, n.name.indexOf("-", 7) + 1)} is reserved for hoard's temp files: not indexed (rename it to index it)`, error: false });
        continue;
      }
      if (n.isLink) {
        onProblem({ rel, kind: "symlink", message: "symbolic link: not followed, not indexed", error: false });
        continue;
      }
      if (n.isDir) {
        subdirs.push(n.name);
        continue;
      }
      let st: Stats | BigIntStats;
      try {
        st = exact ? lstatSync(dir.at(n.name), { bigint: true }) : lstatSync(dir.at(n.name));
      } catch (e: any) {
        onProblem({ rel, kind: "unreadable", message: `cannot stat: ${e.code ?? e.message}`, error: true });
        continue;
      }
      if (st.isSymbolicLink()) {
        onProblem({ rel, kind: "symlink", message: "symbolic link: not followed, not indexed", error: false });
        continue;
      }
      if (!n.isFile && !st.isFile()) {
        if (st.isDirectory()) {
          if (!exclude?.(rel, true)) subdirs.push(n.name); // a file system without entry types: excluded only now
        }
        else onProblem({ rel, kind: "special", message: "not a regular file (socket, device or fifo): not indexed", error: false });
        continue;
      }
      const abs = join(root, rel);
      if (exact) {
        const big = st as BigIntStats;
        onFile({ rel, abs, size: Number(big.size), mtimeNs: big.mtimeNs, ino: big.ino, dev: big.dev, exact });
      } else {
        const f = st as Stats;
        onFile({ rel, abs, size: f.size, mtimeNs: BigInt(Math.round(f.mtimeMs * 1000)) * 1000n, ino: BigInt(f.ino), dev: BigInt(f.dev), exact });
      }
    }
    return subdirs.reverse(); // popped from the end: visited in name order
  };
  visit(top, "");
  try {
    while (frames.length) {
      const f = frames[frames.length - 1]!;
      const name = f.subdirs.pop();
      if (name === undefined) {
        if (f.dir !== top) f.dir.close();
        frames.pop();
        continue;
      }
      const rel = f.rel ? `${f.rel}/${name}` : name;
      let sub: Dir;
      try {
        sub = f.dir.openDir([name]);
      } catch (e) {
        if (!(e instanceof AnchorError)) throw e;
        if (e.kind === "symlink") onProblem({ rel, kind: "symlink", message: "symbolic link: not followed, not indexed", error: false });
        else if (e.kind === "missing") onProblem({ rel, kind: "unreadable", message: "directory vanished during the walk", error: true });
        else onProblem({ rel, kind: "unreadable", message: `cannot read directory: ${e.errno ?? e.message}`, error: true });
        continue;
      }
      visit(sub, rel);
    }
  } finally {
    for (const f of frames) if (f.dir !== top) f.dir.close();
  }
}
