// Directory handles of one operation below an anchor (the destination's root, or the volume root), cached
// and reference counted; a push tree sweeps hoard's temp leftovers and fsyncs the directories it changed.

import { fsyncSync } from "node:fs";
import { AnchorError, type Dir } from "../../src/kernel/anchored.ts";
import { fsyncAsync, TEMP_RE } from "./common.ts";

/** Directory handles kept open per tree (the least recently used idle ones are closed beyond this). */
const MAX_OPEN_DIRS = 128;
/** A swept directory's names are kept (see `lacks`) when it holds at most this many. */
const MAX_LISTED = 65_536;

/**
 * Directory handles below one anchor (a root handle), opened one component at a time without following
 * symlinks, cached for one operation and shared by its workers (reference counted, so a handle in use is
 * never closed). Keys are "/"-joined components. A push tree also sweeps hoard's own temp leftovers from
 * each directory the first time it opens it, and fsyncs the directories whose entries it changed.
 */
export class Tree {
  private dirs = new Map<string, { dir: Dir; refs: number; paths: string[] | undefined; names?: Set<string> }>();
  /** Manifest paths renamed into the anchor itself (undefined: it did not change). */
  private rootPaths: string[] | undefined;
  private swept = new Set<string>();
  /** Manifest paths whose rename could not be made durable, and why. */
  readonly unsynced = new Map<string, string>();
  /** hoard's own temp leftovers removed so far. */
  leftoversRemoved = 0;

  constructor(
    private readonly root: Dir,
    private readonly sweep: boolean,
  ) {}

  /**
   * The handle of directory `parts` (the anchor itself for none); every call is paired with a release.
   * With `create`, missing components are made (mkdirat through the parent's handle, never through a link).
   */
  acquire(parts: string[], create = false): Dir {
    if (parts.length === 0) return this.root;
    const key = parts.join("/");
    const hit = this.dirs.get(key);
    if (hit) {
      hit.refs++;
      this.dirs.delete(key); // most recently used last
      this.dirs.set(key, hit);
      return hit.dir;
    }
    const up = parts.slice(0, -1);
    const parent = this.acquire(up, create);
    const name = parts[parts.length - 1]!;
    let dir: Dir;
    try {
      try {
        dir = parent.openDir([name]);
      } catch (e) {
        if (!(e instanceof AnchorError && e.kind === "missing" && create)) throw e;
        try {
          parent.mkdir(name);
          this.dirty(up);
        } catch (m: any) {
          if (m?.code !== "EEXIST") throw new AnchorError("io", `cannot create ${parent.path}/${name}: ${m?.code ?? m?.message}`, m?.code);
        }
        dir = parent.openDir([name]);
      }
    } finally {
      this.release(up);
    }
    const entry: { dir: Dir; refs: number; paths: string[] | undefined; names?: Set<string> } = { dir, refs: 1, paths: undefined };
    this.dirs.set(key, entry);
    if (this.sweep && !this.swept.has(key)) {
      this.swept.add(key);
      entry.names = this.removeLeftovers(dir);
    }
    this.evict();
    return dir;
  }

  release(parts: string[]): void {
    const hit = parts.length ? this.dirs.get(parts.join("/")) : undefined;
    if (hit) hit.refs--;
  }

  /** Directory `parts` (acquired) changed: a rename or mkdir in it; `path` is a manifest path it now holds. */
  dirty(parts: string[], path?: string): void {
    let paths: string[];
    if (parts.length === 0) paths = this.rootPaths ??= [];
    else {
      const hit = this.dirs.get(parts.join("/"));
      if (!hit) return;
      paths = hit.paths ??= [];
    }
    if (path !== undefined) paths.push(path);
  }

  /**
   * Whether the name `name` was absent from directory `parts` (acquired) when this tree first opened and
   * listed it: then nothing of ours can be checked in place there. Names may appear since (a rename of
   * ours, another writer), which placing handles (keepOld looks again); false whenever it is not known.
   */
  lacks(parts: string[], name: string): boolean {
    const names = parts.length ? this.dirs.get(parts.join("/"))?.names : undefined;
    return names !== undefined && !names.has(name);
  }

  /**
   * hoard's own temps left by an interrupted push (exact names only); a link is removed, never followed.
   * Returns the names listed (for `lacks`), unless there are too many to keep or the listing failed.
   */
  private removeLeftovers(dir: Dir): Set<string> | undefined {
    let names: string[];
    try {
      names = dir.list();
    } catch {
      return undefined;
    }
    for (const n of names) {
      if (!TEMP_RE.test(n)) continue;
      try {
        if (dir.stat(n)?.isDirectory()) continue;
        dir.unlink(n);
        this.leftoversRemoved++;
      } catch {
        /* gone meanwhile, or not removable: left for the next push */
      }
    }
    return names.length <= MAX_LISTED ? new Set(names) : undefined;
  }

  /** fsync a changed directory; a failure un-verifies the files renamed into it. */
  private async flush(dir: Dir, paths: string[], sync: boolean): Promise<void> {
    try {
      if (sync) fsyncSync(dir.fd);
      else await fsyncAsync(dir.fd);
    } catch (e: any) {
      for (const p of paths) this.unsynced.set(p, `fsync of ${dir.path} failed: ${e?.code ?? e?.message}`);
    }
  }

  /** Close the least recently used idle handles beyond MAX_OPEN_DIRS (a changed one is fsynced first). */
  private evict(): void {
    if (this.dirs.size <= MAX_OPEN_DIRS) return;
    for (const [key, d] of this.dirs) {
      if (this.dirs.size <= MAX_OPEN_DIRS) break;
      if (d.refs > 0) continue;
      if (d.paths) void this.flush(d.dir, d.paths, true);
      d.dir.close();
      this.dirs.delete(key);
    }
  }

  /** fsync every directory changed since the last call (concurrently); a failure goes to `unsynced`. */
  async syncChanged(): Promise<void> {
    const jobs: Promise<void>[] = [];
    for (const d of this.dirs.values())
      if (d.paths) {
        jobs.push(this.flush(d.dir, d.paths, false));
        d.paths = undefined;
      }
    if (this.rootPaths) jobs.push(this.flush(this.root, this.rootPaths, false));
    this.rootPaths = undefined;
    await Promise.all(jobs);
  }

  /** fsync every changed directory (concurrently), then close every handle and the anchor. */
  async close(): Promise<void> {
    try {
      await this.syncChanged();
    } finally {
      for (const d of this.dirs.values()) d.dir.close();
      this.dirs.clear();
      this.root.close();
    }
  }
}
