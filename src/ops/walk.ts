// Walking a volume tree: yields regular files with their lstat facts and reports everything else (symlinks,
// devices, unreadable directories, names that are not valid UTF-8, hoard's own temp files), never silently;
// only what the volume's exclude patterns name is skipped without a word (an excluded directory is not entered).

import { closeSync, constants, lstatSync, openSync, readdirSync, type BigIntStats, type Stats } from "node:fs";
import { AnchorError, type Dir } from "../kernel/anchored.ts";
import { RESERVED_DIR, VOLUME_MARKER } from "../kernel/volumes.ts";

export interface WalkFile {
  rel: string; // "/"-separated, relative to the root
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

/** Characters from the first surrogate up: where UTF-16 order and code point order can disagree. */
const HIGH = /[\ud800-\uffff]/;

/**
 * SQLite's order of paths (BINARY: the UTF-8 bytes, that is code points). JavaScript compares UTF-16
 * units, which agrees except where a surrogate (a code point past U+FFFF) meets U+E000..U+FFFF.
 */
export function comparePaths(a: string, b: string): number {
  if (a === b) return 0;
  if (!HIGH.test(a) || !HIGH.test(b)) return a < b ? -1 : 1; // no surrogate can meet U+E000..U+FFFF
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x <= 0xdfff ? x + 0x2000 : x - 0x800; // surrogates above U+E000..U+FFFF
      y = y <= 0xdfff ? y + 0x2000 : y - 0x800;
    }
    return x < y ? -1 : 1;
  }
  return a.length - b.length;
}

/**
 * The working directory follows the walk: each directory is entered through its handle (chdir to
 * /proc/self/fd/N, which is fchdir), so an entry is reached as one path component, not through
 * procfs each time (a third of a shallow index's system time). The caller's directory is held by a
 * handle and restored. Without a handle on it (an unreadable or removed directory), entries are
 * reached through the directory handles' procfs paths instead.
 */
class Inside {
  private cur: Dir | undefined;
  private readonly home: number | undefined;
  constructor() {
    try {
      this.home = openSync(".", constants.O_RDONLY | (constants.O_DIRECTORY ?? 0));
    } catch {
      this.home = undefined;
    }
  }
  /** The path of entry `name` of `dir` for node:fs calls, valid until the next call. */
  at(dir: Dir, name: string): string {
    if (this.home === undefined) return dir.at(name);
    if (this.cur !== dir) {
      try {
        process.chdir(`/proc/self/fd/${dir.fd}`);
      } catch {
        return dir.at(name); // not enterable (no search permission): each entry reports its own error
      }
      this.cur = dir;
    }
    return name;
  }
  restore(): void {
    if (this.home === undefined) return;
    try {
      if (this.cur) process.chdir(`/proc/self/fd/${this.home}`);
    } finally {
      closeSync(this.home);
    }
  }
}

type Entry = { name: string; isDir: boolean; isFile: boolean; isLink: boolean; key: string };

/**
 * Walk the tree below the handle `top`, through anchored handles only, yielding files in the order
 * of their relative paths as SQLite orders them (comparePaths: a directory's entries sort as "name/"),
 * so a caller can merge the walk with rows read in path order. `onFile` gets the file's directory
 * handle and the path that reaches the file from the working directory, both valid for the length of the call only. With `exact` false the per-file
 * lstat is the cheaper float one (mtime to the microsecond): enough to decide "unchanged" in a shallow
 * index, never recorded as is. hoard's own temp files are never yielded: exact temp names go to
 * `onLeftover` (for removal), other names with a temp prefix are reported as reserved.
 */
export function walk(
  top: Dir,
  onFile: (f: WalkFile, at: string) => void,
  onProblem: (p: WalkProblem) => void,
  exact = true,
  onLeftover?: (rel: string, kind: LeftoverKind) => void,
  /** The volume's exclude patterns: a matching entry is neither yielded nor reported, a matching directory not descended. */
  exclude?: (rel: string, isDir: boolean) => boolean,
): void {
  // depth-first, one open handle per level: each directory is opened from its parent's handle
  // (never by path, never through a symlink), so a parent swapped for a link mid-walk cannot lead outside
  const frames: { dir: Dir; rel: string; entries: Entry[]; next: number; bad?: Set<string> }[] = [];
  const visit = (dir: Dir, relDir: string) => {
    const here = `/proc/self/fd/${dir.fd}`;
    let entries: Entry[];
    try {
      entries = readdirSync(here, { withFileTypes: true }).map((d) => {
        let isDir = d.isDirectory();
        // a file system without entry types: the type decides the order ("name/"), so it is looked up now
        if (!isDir && !d.isFile() && !d.isSymbolicLink() && !d.isFIFO() && !d.isSocket() && !d.isCharacterDevice() && !d.isBlockDevice()) isDir = dir.stat(d.name)?.isDirectory() ?? false;
        return { name: d.name, isDir, isFile: d.isFile(), isLink: d.isSymbolicLink(), key: isDir ? `${d.name}/` : d.name };
      });
    } catch (e: any) {
      onProblem({ rel: relDir || ".", kind: "unreadable", message: `cannot read directory: ${e.code ?? e.message}`, error: true });
      entries = [];
    }
    const bad = entries.some((n) => n.name.includes("\uFFFD")) ? badNames(here) : undefined;
    if (entries.some((n) => HIGH.test(n.name))) entries.sort((a, b) => comparePaths(a.key, b.key));
    else entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    frames.push({ dir, rel: relDir, entries, next: 0, bad });
  };
  /** One entry of a listed directory: a file is yielded (or reported), a directory returned to be entered. */
  const inside = new Inside();
  const entry = (dir: Dir, relDir: string, n: Entry, bad: Set<string> | undefined): boolean => {
    const rel = relDir ? `${relDir}/${n.name}` : n.name;
    if (!relDir && (n.name === VOLUME_MARKER || n.name === RESERVED_DIR)) return false;
    // excluded: skipped silently (hoard's own temp leftovers are still found and removed)
    if (exclude && !TEMP_PREFIX.test(n.name) && exclude(rel, n.isDir)) return false;
    if (bad?.has(n.name)) {
      onProblem({ rel, kind: "bad_name", message: `name is not valid UTF-8 (${escapeName(rel)}); rename it to index it`, error: true });
      return false;
    }
    if (n.name.includes("\n") || n.name.includes("\r")) {
      onProblem({ rel, kind: "bad_name", message: `name contains a line break (${escapeName(rel)}); rename it to index it`, error: true });
      return false;
    }
    if (TEMP_PREFIX.test(n.name)) {
      const kind = leftoverKind(n.name);
      if (kind) onLeftover?.(rel, kind);
      else onProblem({ rel, kind: "reserved_name", message: `the name prefix ${n.name.slice(0, n.name.indexOf("-", 7) + 1)} is reserved for hoard's temp files: not indexed (rename it to index it)`, error: false });
      return false;
    }
    if (n.isLink) {
      onProblem({ rel, kind: "symlink", message: "symbolic link: not followed, not indexed", error: false });
      return false;
    }
    if (n.isDir) return true;
    let st: Stats | BigIntStats;
    const at = inside.at(dir, n.name);
    try {
      st = exact ? lstatSync(at, { bigint: true }) : lstatSync(at);
    } catch (e: any) {
      onProblem({ rel, kind: "unreadable", message: `cannot stat: ${e.code ?? e.message}`, error: true });
      return false;
    }
    if (st.isSymbolicLink()) {
      onProblem({ rel, kind: "symlink", message: "symbolic link: not followed, not indexed", error: false });
      return false;
    }
    if (!n.isFile && !st.isFile()) {
      // a directory here was a file when listed: swapped since, out of path order now; not entered
      if (st.isDirectory()) {
        onProblem({ rel, kind: "unreadable", message: "a file became a directory during the walk", error: true });
        return false;
      }
      onProblem({ rel, kind: "special", message: "not a regular file (socket, device or fifo): not indexed", error: false });
      return false;
    }
    if (exact) {
      const big = st as BigIntStats;
      onFile({ rel, size: Number(big.size), mtimeNs: big.mtimeNs, ino: big.ino, dev: big.dev, exact }, at);
    } else {
      const f = st as Stats;
      onFile({ rel, size: f.size, mtimeNs: BigInt(Math.round(f.mtimeMs * 1000)) * 1000n, ino: BigInt(f.ino), dev: BigInt(f.dev), exact }, at);
    }
    return false;
  };
  try {
    visit(top, ""); // inside the try: the caller's directory handle is released however the top fails
    while (frames.length) {
      const f = frames[frames.length - 1]!;
      const n = f.entries[f.next++];
      if (n === undefined) {
        if (f.dir !== top) f.dir.close();
        frames.pop();
        continue;
      }
      if (!entry(f.dir, f.rel, n, f.bad)) continue;
      const name = n.name;
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
    inside.restore();
  }
}
