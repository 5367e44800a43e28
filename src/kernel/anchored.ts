// Anchored filesystem work (DESIGN invariant 10): directory handles opened from a root one component at a
// time without following symlinks; every open, stat, create, rename and unlink names one entry of a held handle.
//
// Mechanism: Linux /proc/self/fd/<fd>/<name>. The magic link /proc/self/fd/<fd> resolves to the very directory
// the descriptor holds (wherever it has been moved since), and <name> is a single component that is looked up
// in it, so node:fs calls on that path are openat/unlinkat/renameat/mkdirat/fstatat relative to the handle.
// A symlink as <name> is never followed: directories open with O_DIRECTORY|O_NOFOLLOW, files with O_NOFOLLOW,
// stat is lstat, and unlink/rename/link/mkdir never follow their final component. Measured against bun:ffi
// calls into libc it costs the same (see the commit message), and it works unchanged under Bun, Deno and the
// compiled binary with no per-architecture struct layouts or errno plumbing. Without /proc (not Linux, or /proc
// not mounted) openRoot refuses: there is no path-based fallback.

import { closeSync, constants, fstatSync, fsyncSync, linkSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, unlinkSync, type BigIntStats } from "node:fs";
import { refused } from "./errors.ts";

const O_DIRECTORY: number | undefined = constants.O_DIRECTORY;
const O_NOFOLLOW: number | undefined = constants.O_NOFOLLOW;

/** Why an anchored operation could not reach an entry. */
export type AnchorKind = "symlink" | "not_dir" | "missing" | "io";

export class AnchorError extends Error {
  constructor(
    readonly kind: AnchorKind,
    message: string,
    readonly errno?: string,
  ) {
    super(message);
    this.name = "AnchorError";
  }
}

/** A name inside one directory: one component, never "", ".", ".." or containing "/" or NUL. */
function checkName(name: string): string {
  if (name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\0")) throw new AnchorError("io", `not a single path component: ${JSON.stringify(name)}`);
  return name;
}

let available: boolean | undefined;
function requireMechanism(fd: number, path: string): void {
  if (available === undefined) {
    available = false;
    if (process.platform === "linux" && O_DIRECTORY && O_NOFOLLOW) {
      try {
        const a = fstatSync(fd, { bigint: true });
        const b = lstatSync(`/proc/self/fd/${fd}/.`, { bigint: true });
        available = a.dev === b.dev && a.ino === b.ino;
      } catch {
        available = false;
      }
    }
  }
  if (!available)
    throw refused(
      "no_anchored_fs",
      `refused: cannot work on ${path} through anchored directory handles here (needs Linux with /proc mounted); hoard never falls back to path-based deletes or renames`,
      "run hoard on Linux with /proc mounted",
    );
}

function classify(e: any, what: string, dir: Dir, name: string): AnchorError {
  if (e?.code === "ENOENT") return new AnchorError("missing", `${what} is gone (ENOENT)`, e.code);
  if (e?.code === "ENOTDIR" || e?.code === "ELOOP") {
    let link = false;
    try {
      link = lstatSync(dir.at(name)).isSymbolicLink();
    } catch {}
    return link ? new AnchorError("symlink", `${what} is a symbolic link: not followed`, e.code) : new AnchorError("not_dir", `${what} is not a directory`, e.code);
  }
  return new AnchorError("io", `${what}: ${e?.code ?? e?.message ?? e}`, e?.code);
}

/** An open directory handle. `path` is for messages only; nothing resolves it again. */
export class Dir {
  private closed = false;
  private constructor(
    readonly fd: number,
    readonly path: string,
  ) {}

  /** Open a root directory (its own path is trusted: it comes from the config) as the anchor of everything below. */
  static openRoot(path: string): Dir {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | (O_DIRECTORY ?? 0));
    } catch (e: any) {
      throw new AnchorError(e?.code === "ENOENT" ? "missing" : e?.code === "ENOTDIR" ? "not_dir" : "io", `cannot open ${path}: ${e?.code ?? e?.message}`, e?.code);
    }
    try {
      requireMechanism(fd, path);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
    return new Dir(fd, path);
  }

  /** `/proc/self/fd/<fd>/<name>`: the entry `name` of this very directory, for node:fs calls. */
  at(name: string): string {
    if (this.closed) throw new AnchorError("io", `directory handle of ${this.path} is closed`);
    return `/proc/self/fd/${this.fd}/${checkName(name)}`;
  }

  /**
   * Open the directory `parts` below this one, one component at a time, each a real directory (never a
   * symlink). With `create`, missing components are made (mkdirat, mode 0777 & umask). The caller closes it.
   */
  openDir(parts: string[], opts: { create?: boolean } = {}): Dir {
    let cur: Dir = this;
    let shown = this.path;
    try {
      for (const p of parts) {
        shown = `${shown}/${p}`;
        let fd: number | undefined;
        for (let attempt = 0; fd === undefined; attempt++) {
          try {
            fd = openSync(cur.at(p), constants.O_RDONLY | O_DIRECTORY! | O_NOFOLLOW!);
          } catch (e: any) {
            if (e?.code === "ENOENT" && opts.create && attempt < 2) {
              try {
                mkdirSync(cur.at(p));
              } catch (m: any) {
                if (m?.code !== "EEXIST") throw classify(m, `cannot create ${shown}`, cur, p);
              }
              continue;
            }
            throw classify(e, shown, cur, p);
          }
        }
        const next = new Dir(fd, shown);
        if (cur !== this) cur.close();
        cur = next;
      }
    } catch (e) {
      if (cur !== this) cur.close();
      throw e;
    }
    return cur === this ? new Dir(openSync(`/proc/self/fd/${this.fd}/.`, constants.O_RDONLY | O_DIRECTORY!), this.path) : cur;
  }

  /** Open the entry `name` (O_NOFOLLOW always added; a symlink fails with ELOOP). Returns a descriptor. */
  openFile(name: string, flags: number, mode = 0o666): number {
    try {
      return openSync(this.at(name), flags | O_NOFOLLOW!, mode);
    } catch (e: any) {
      if (e?.code === "ELOOP") throw new AnchorError("symlink", `${this.path}/${name} is a symbolic link: not followed`, e.code);
      if (e?.code === "ENOENT") throw new AnchorError("missing", `${this.path}/${name} is gone (ENOENT)`, e.code);
      throw new AnchorError("io", `cannot open ${this.path}/${name}: ${e?.code ?? e?.message}`, e?.code);
    }
  }

  /** lstat of the entry `name` (a symlink is reported as one), or undefined if there is none. */
  stat(name: string): BigIntStats | undefined {
    try {
      return lstatSync(this.at(name), { bigint: true, throwIfNoEntry: false }); // no exception built for a miss
    } catch (e: any) {
      if (e?.code === "ENOENT") return undefined; // a runtime that ignores throwIfNoEntry
      throw e;
    }
  }

  /** Remove the entry `name` (a symlink itself, never its target). */
  unlink(name: string): void {
    unlinkSync(this.at(name));
  }

  /** Rename `from` in this directory to `to` in `toDir` (replaces like rename(2); never follows either name). */
  rename(from: string, toDir: Dir, to: string): void {
    renameSync(this.at(from), toDir.at(to));
  }

  /**
   * Give the entry `from` the additional name `to` in `toDir`, failing with EEXIST instead of replacing
   * anything: with an unlink of `from` after it, a rename that can never clobber.
   */
  link(from: string, toDir: Dir, to: string): void {
    linkSync(this.at(from), toDir.at(to));
  }

  /** Create the directory `name` (fails with EEXIST if any entry has that name). */
  mkdir(name: string, mode = 0o777): void {
    mkdirSync(this.at(name), { mode });
  }

  /** The names in this directory. */
  list(): string[] {
    return readdirSync(`/proc/self/fd/${this.fd}`);
  }

  /** fsync the directory itself (makes its entry changes durable). */
  sync(): void {
    fsyncSync(this.fd);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

export const openRoot = (path: string): Dir => Dir.openRoot(path);

/**
 * Handles to the directories of one tree, each opened anchored from the root on first use and kept
 * for the next entry of the same directory (work in walk order reopens nothing). `use` lends the
 * handle for the length of an async call, so a directory is never closed under a read in flight.
 */
export class DirCache {
  private readonly open = new Map<string, { dir: Dir; refs: number }>();
  constructor(
    private readonly root: Dir,
    private readonly idle = 32,
  ) {}

  private acquire(relDir: string): { dir: Dir; refs: number } {
    let e = this.open.get(relDir);
    if (!e) {
      if (this.open.size >= this.idle)
        for (const [k, x] of this.open)
          if (x.refs === 0) {
            x.dir.close();
            this.open.delete(k);
            if (this.open.size < this.idle) break;
          }
      e = { dir: relDir ? this.root.openDir(relDir.split("/")) : this.root, refs: 0 };
      this.open.set(relDir, e);
    }
    e.refs++;
    return e;
  }

  /** Call fn with the directory holding `rel` ("/"-separated, below the root) and the entry's name. */
  async use<T>(rel: string, fn: (dir: Dir, name: string) => Promise<T> | T): Promise<T> {
    const i = rel.lastIndexOf("/");
    const e = this.acquire(i < 0 ? "" : rel.slice(0, i));
    try {
      return await fn(e.dir, rel.slice(i + 1));
    } finally {
      e.refs--;
    }
  }

  /** The synchronous form of use. */
  useSync<T>(rel: string, fn: (dir: Dir, name: string) => T): T {
    const i = rel.lastIndexOf("/");
    const e = this.acquire(i < 0 ? "" : rel.slice(0, i));
    try {
      return fn(e.dir, rel.slice(i + 1));
    } finally {
      e.refs--;
    }
  }

  /** Close every handle this cache opened (the root stays with its owner). */
  close(): void {
    for (const e of this.open.values()) if (e.dir !== this.root) e.dir.close();
    this.open.clear();
  }
}

/** Split a "/"-separated relative path into its parent components and its final name. */
export function splitRel(rel: string): { parents: string[]; name: string } {
  const parts = rel.split("/");
  for (const p of parts) checkName(p);
  return { parents: parts.slice(0, -1), name: parts[parts.length - 1]! };
}
