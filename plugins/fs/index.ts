// Built-in destination `fs`: a plain directory, the embedded default that needs no external tool.
// Every read, stat, create and rename on either side goes through directory handles opened without following
// symlinks (src/kernel/anchored.ts): the source from the volume root, the destination from its root. A push
// copies the checked source handle into a temp file, checks the temp's BLAKE3 against the index, fsyncs it
// and only then renames it into place (with the source's modification time); a replaced object is kept under
// .hoard/history (never overwritten). Receipts (local state) only spare re-reading unchanged objects and are reported as such.

import type { DestinationHandler, FileOutcome, HandlerContext, ManifestEntry, OpenContext, Plugin, PluginApi } from "hoard/plugin";
import { closeSync, constants, copyFileSync, fstatSync, fsync, fsyncSync, futimesSync, lstatSync, mkdirSync, openSync, readSync, writeSync, existsSync, type BigIntStats } from "node:fs";
import { randomUUID } from "node:crypto";
import { AnchorError, openRoot, splitRel, type Dir } from "../../src/kernel/anchored.ts";
import { loadReceipts, saveReceipts, type Receipts } from "./receipts.ts";
import { fsCatalogs } from "./catalogs.ts";

export const DEST_MARKER = ".hoard-destination";
/** Prefix of a push's temp file, beside its target; a leftover is `${TEMP_PREFIX}<uuid>` exactly. */
export const TEMP_PREFIX = ".hoard-tmp-";
const TEMP_RE = /^\.hoard-tmp-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Where a replaced object is kept, below the volume's directory at the destination. */
const HISTORY = [".hoard", "history"];

interface FsOptions {
  path: string;
}

/** Files copied (and fsynced) at once: concurrent fsyncs share the file system's journal commits. */
const PUSH_CONCURRENCY = 8;
/** Directory handles kept open per tree (the least recently used idle ones are closed beyond this). */
const MAX_OPEN_DIRS = 128;
const CHUNK = 1 << 20;
/** Give the event loop a turn (other workers' fsyncs, signals) after this many bytes copied or hashed. */
const YIELD_EVERY = 64 << 20;
const RD = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);
const NO_HARD_LINKS = new Set(["EPERM", "EOPNOTSUPP", "ENOTSUP", "ENOSYS", "EMLINK"]);

const errText = (e: any): string => (e instanceof AnchorError ? e.message : typeof e?.code === "string" ? e.code : (e?.message ?? String(e)));
/** Seconds (a float, as futimes takes them) of a nanosecond time; exact to the microsecond. */
const nsToSeconds = (ns: bigint): number => Number(ns / 1000n) / 1e6;
const yieldTurn = (): Promise<void> => new Promise((r) => setImmediate(r));
const fsyncAsync = (fd: number): Promise<void> => new Promise((res, rej) => fsync(fd, (e) => (e ? rej(e) : res())));

/** One reused buffer: every read/write between two awaits is synchronous, so workers never share it mid-use. */
let shared: Buffer | undefined;
const buffer = (): Buffer => (shared ??= Buffer.allocUnsafe(CHUNK));

/** A failure of one entry, with the reason given to the user. */
class EntryError extends Error {
  constructor(
    message: string,
    readonly missing = false,
  ) {
    super(message);
  }
}

/**
 * Directory handles below one anchor (a root handle), opened one component at a time without following
 * symlinks, cached for one operation and shared by its workers (reference counted, so a handle in use is
 * never closed). Keys are "/"-joined components. A push tree also sweeps hoard's own temp leftovers from
 * each directory the first time it opens it, and fsyncs the directories whose entries it changed.
 */
class Tree {
  private dirs = new Map<string, { dir: Dir; refs: number; paths: string[] | undefined }>();
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
    this.dirs.set(key, { dir, refs: 1, paths: undefined });
    if (this.sweep && !this.swept.has(key)) {
      this.swept.add(key);
      this.removeLeftovers(dir);
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

  /** hoard's own temps left by an interrupted push (exact names only); a link is removed, never followed. */
  private removeLeftovers(dir: Dir): void {
    let names: string[];
    try {
      names = dir.list();
    } catch {
      return;
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

  /** fsync every changed directory (concurrently), then close every handle and the anchor. */
  async close(): Promise<void> {
    try {
      const jobs: Promise<void>[] = [];
      for (const d of this.dirs.values()) if (d.paths) jobs.push(this.flush(d.dir, d.paths, false));
      if (this.rootPaths) jobs.push(this.flush(this.root, this.rootPaths, false));
      await Promise.all(jobs);
    } finally {
      for (const d of this.dirs.values()) d.dir.close();
      this.dirs.clear();
      this.root.close();
    }
  }
}

/** The parent components and name of a manifest path (below `under`: the volume's directory at the destination). */
function place(rel: string, under?: string): { parents: string[]; name: string } {
  let s: { parents: string[]; name: string };
  try {
    s = splitRel(rel);
    if (under !== undefined) splitRel(under); // a volume name is one component
  } catch {
    throw new EntryError(`unsafe manifest path ${JSON.stringify(under === undefined ? rel : `${under}/${rel}`)}`);
  }
  return under === undefined ? s : { parents: [under, ...s.parents], name: s.name };
}

/** An AnchorError met on the way to an entry, as that entry's failure. */
function refusal(e: unknown, at: string): EntryError {
  if (!(e instanceof AnchorError)) return new EntryError(`${errText(e)} at ${at}`);
  if (e.kind === "missing") return new EntryError(`missing at ${at}`, true);
  if (e.kind === "symlink") return new EntryError(`refused at ${at}: ${e.message}`);
  if (e.kind === "not_dir") return new EntryError(`refused at ${at}: ${e.message}`);
  return new EntryError(`cannot reach it at ${at}: ${e.message}`);
}

export function openFs(api: PluginApi, o: FsOptions, octx: Pick<OpenContext, "name" | "stateDir">): DestinationHandler {
  const root = o.path;
  const name = octx.name;
  const { failure } = api.util.errors;

  /** The destination root's handle (its own path is trusted: it comes from the config). */
  function openDest(): Dir {
    try {
      return openRoot(root);
    } catch (e) {
      if (e instanceof AnchorError) throw failure("dest_missing", `destination directory ${root} cannot be opened: ${e.message}; is it mounted?`, `mount it, or fix destinations.${name}.path`);
      throw e;
    }
  }

  /** BLAKE3 of an open descriptor from offset 0, and whether its size or mtime moved while it was read. */
  async function hashFd(fd: number, signal?: AbortSignal): Promise<{ digest: string; before: BigIntStats; changed: boolean }> {
    const before = fstatSync(fd, { bigint: true });
    if (!before.isFile()) throw new EntryError(`not a regular file at ${name}`);
    const h = api.util.blake3Stream();
    const buf = buffer();
    let pos = 0;
    let since = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK, pos);
      if (n === 0) break;
      h.update(n === CHUNK ? buf : buf.subarray(0, n));
      pos += n;
      if (n < CHUNK && pos >= Number(before.size)) break;
      if ((since += n) >= YIELD_EVERY) {
        since = 0;
        await yieldTurn();
        signal?.throwIfAborted();
      }
    }
    const after = fstatSync(fd, { bigint: true });
    return { digest: h.digestHex(), before, changed: after.size !== before.size || after.mtimeNs !== before.mtimeNs || BigInt(pos) !== before.size };
  }

  const differs = (digest: string, e: ManifestEntry) => `content at ${name} differs (BLAKE3 ${digest.slice(0, 16)}…, expected ${e.blake3.slice(0, 16)}…)`;

  /** Open the object of `e` at the destination (never through a link) and hash it; the caller compares. */
  async function readObject(dst: Tree, e: ManifestEntry, volume: string, signal?: AbortSignal): Promise<{ digest: string; st: BigIntStats; changed: boolean }> {
    const { parents, name: base } = place(e.path, volume);
    let dir: Dir;
    try {
      dir = dst.acquire(parents);
    } catch (err) {
      throw refusal(err, name);
    }
    try {
      let fd: number;
      try {
        fd = dir.openFile(base, RD);
      } catch (err) {
        throw refusal(err, name);
      }
      try {
        const h = await hashFd(fd, signal);
        if (Number(h.before.size) !== e.size) throw new EntryError(`size at ${name} is ${h.before.size}, expected ${e.size}`);
        return { digest: h.digest, st: h.before, changed: h.changed };
      } finally {
        closeSync(fd);
      }
    } finally {
      dst.release(parents);
    }
  }

  /** lstat of the object of `e` (a symlink is refused, never followed); its size must be the entry's. */
  function statObject(dst: Tree, e: ManifestEntry, volume: string): BigIntStats {
    const { parents, name: base } = place(e.path, volume);
    let dir: Dir;
    try {
      dir = dst.acquire(parents);
    } catch (err) {
      throw refusal(err, name);
    }
    try {
      const st = dir.stat(base);
      if (!st) throw new EntryError(`missing at ${name}`, true);
      if (st.isSymbolicLink()) throw new EntryError(`not a regular file at ${name} (a symbolic link: not followed)`);
      if (!st.isFile()) throw new EntryError(`not a regular file at ${name}`);
      if (Number(st.size) !== e.size) throw new EntryError(`size at ${name} is ${st.size}, expected ${e.size}`);
      return st;
    } finally {
      dst.release(parents);
    }
  }

  async function checkOne(dst: Tree, e: ManifestEntry, ctx: HandlerContext, receipts: Receipts, useReceipt: boolean): Promise<FileOutcome> {
    const rc = receipts.get(e.path);
    // a receipt saves the read-back of an object unchanged since its last check; it is reported as
    // such (unchanged since then), never as verified now, and never for an entry due for a check
    if (useReceipt && !e.recheck && rc && rc.blake3 === e.blake3) {
      const st = statObject(dst, e, ctx.volume);
      if (rc.size === Number(st.size) && rc.mtime_ns === String(st.mtimeNs)) {
        const now = api.util.nowNs();
        const at = BigInt(rc.checked_at);
        return { path: e.path, ok: true, unchanged: true, method: "blake3", verifiedAt: at < now ? at : now };
      }
    }
    const { digest, st, changed } = await readObject(dst, e, ctx.volume, ctx.signal);
    const now = api.util.nowNs();
    if (digest === e.blake3 && !changed) receipts.set(e.path, { blake3: digest, size: Number(st.size), mtime_ns: String(st.mtimeNs), checked_at: String(now) });
    else receipts.delete(e.path);
    receipts.dirty = true;
    if (digest !== e.blake3) throw new EntryError(differs(digest, e));
    return { path: e.path, ok: true, method: "blake3", verifiedAt: now };
  }

  /**
   * Copy the local file of `e` to the destination: the source is opened O_NOFOLLOW through handles from the
   * volume root and must be the indexed regular file (size, mtime); its bytes go into a new temp file created
   * through the destination directory's handle, whose BLAKE3 (read back) must be the index's; then fsync,
   * keep whatever held the name under .hoard/history, and rename the temp into place.
   */
  async function transfer(src: Tree, dst: Tree, e: ManifestEntry, ctx: HandlerContext, receipts: Receipts): Promise<FileOutcome> {
    const { parents: sp, name: base } = place(e.path);
    // 1. the source, through its handle
    let sfd: number;
    try {
      const sdir = src.acquire(sp);
      try {
        sfd = sdir.openFile(base, RD);
      } finally {
        src.release(sp);
      }
    } catch (err) {
      if (err instanceof AnchorError && err.kind === "symlink") throw new EntryError(`copy refused: the local file or a parent directory is a symbolic link now (${err.message}); index again`);
      if (err instanceof AnchorError && err.kind === "missing") throw new EntryError(`copy failed: the local file is gone (${err.message}); index again`);
      throw new EntryError(`copy failed: ${errText(err)}`);
    }
    const { parents } = place(e.path, ctx.volume);
    let dir: Dir | undefined;
    let tmp = "";
    let placed = false;
    try {
      const sst = fstatSync(sfd, { bigint: true });
      if (!sst.isFile()) throw new EntryError("copy refused: the local file is not a regular file anymore; index again");
      // the size must be the indexed one; the copy's BLAKE3 decides the rest (a file touched back to
      // its indexed bytes may be pushed: what lands is checked against the index before it is placed)
      if (Number(sst.size) !== e.size) throw new EntryError(`copy refused: the local file probably changed since it was indexed (size ${sst.size} vs ${e.size}); index again`);
      // 2. a temp file beside the target, through the destination directory's handle
      try {
        dir = dst.acquire(parents, true);
      } catch (err) {
        throw refusal(err, name);
      }
      tmp = `${TEMP_PREFIX}${randomUUID()}`;
      let tfd: number;
      if (e.size > CHUNK) {
        // in the kernel (copy_file_range): from the checked handle itself (/proc/self/fd/N reopens that very
        // file, wherever it is now) into a new file (O_EXCL: never through a link) of the anchored directory
        copyFileSync(`/proc/self/fd/${sfd}`, dir.at(tmp), constants.COPYFILE_EXCL);
        tfd = dir.openFile(tmp, constants.O_RDWR);
      } else {
        tfd = dir.openFile(tmp, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, Number(sst.mode & 0o777n));
        try {
          const buf = buffer();
          const n = readSync(sfd, buf, 0, CHUNK, 0);
          for (let off = 0; off < n; ) off += writeSync(tfd, buf, off, n - off);
        } catch (err) {
          closeSync(tfd);
          throw err;
        }
      }
      let tst: BigIntStats;
      try {
        closeSync(sfd);
        sfd = -1;
        // 3. the temp's bytes are checked before they go anywhere
        const h = await hashFd(tfd, ctx.signal);
        if (h.digest !== e.blake3 || h.changed) throw new EntryError(`copy refused: the copied bytes differ from the index (BLAKE3 ${h.digest.slice(0, 16)}…, expected ${e.blake3.slice(0, 16)}…); the local file probably changed since it was indexed (index again)`);
        // the object keeps the source's times (as cp -p does), set on the checked temp before it is placed
        futimesSync(tfd, nsToSeconds(sst.atimeNs), nsToSeconds(sst.mtimeNs));
        await fsyncAsync(tfd);
        tst = fstatSync(tfd, { bigint: true });
      } finally {
        closeSync(tfd);
      }
      // 4. whatever holds the name is kept under .hoard/history; then the checked temp takes the name
      keepOld(dst, dir, base, ctx, e.path);
      dir.rename(tmp, dir, base);
      placed = true;
      dst.dirty(parents, e.path); // made durable once per directory, before outcomes are returned
      const now = api.util.nowNs();
      receipts.set(e.path, { blake3: e.blake3, size: Number(tst.size), mtime_ns: String(tst.mtimeNs), checked_at: String(now) });
      receipts.dirty = true;
      return { path: e.path, ok: true, method: "blake3", verifiedAt: now, transferred: true };
    } catch (err) {
      if (err instanceof EntryError) throw err;
      throw new EntryError(`copy failed: ${errText(err)}`);
    } finally {
      if (sfd >= 0) closeSync(sfd);
      if (tmp && !placed && dir)
        try {
          dir.unlink(tmp); // our own unchecked or unplaced temp (a link of that name is removed, not followed)
        } catch {}
      if (dir) dst.release(parents);
    }
  }

  /**
   * Keep the entry `base` of `dir` (an older object, or anything else found there) under
   * .hoard/history/run-<id>/PATH, never replacing an earlier kept entry (PATH.1, PATH.2, … then).
   * With hard links the name keeps pointing at the old object until the rename replaces it.
   */
  function keepOld(dst: Tree, dir: Dir, base: string, ctx: HandlerContext, rel: string): void {
    const st = dir.stat(base);
    if (!st) return;
    if (st.isDirectory()) throw new EntryError(`refused at ${name}: a directory is where the file belongs (${dir.path}/${base}); move it away`);
    const hparts = [ctx.volume, ...HISTORY, `run-${ctx.runId}`, ...place(rel).parents];
    let hdir: Dir;
    try {
      hdir = dst.acquire(hparts, true);
    } catch (err) {
      throw new EntryError(`refused at ${name}: cannot keep the older copy under ${HISTORY.join("/")}: ${errText(err)}`);
    }
    try {
      for (let k = 0; k < 10_000; k++) {
        const cand = k === 0 ? base : `${base}.${k}`;
        try {
          dir.link(base, hdir, cand);
          dst.dirty(hparts);
          return;
        } catch (err: any) {
          if (err?.code === "EEXIST") continue;
          if (err?.code === "ENOENT") return; // gone meanwhile: nothing to keep
          if (!NO_HARD_LINKS.has(err?.code)) throw err;
          // no hard links here: a plain rename to a name just seen free
          if (hdir.stat(cand)) continue;
          dir.rename(base, hdir, cand);
          dst.dirty(hparts);
          return;
        }
      }
      throw new EntryError(`refused at ${name}: no free name under ${HISTORY.join("/")} for ${rel}`);
    } finally {
      dst.release(hparts);
    }
  }

  /** A tree of the destination: its root handle is the anchor; keys start with the volume name. */
  const destTree = (sweep: boolean) => new Tree(openDest(), sweep);

  /**
   * Run fn over every entry (until aborted) with the receipts loaded, saving them whatever
   * happens; up to `concurrency` entries at once (each touches only its own paths). Outcomes come
   * back in manifest order; an entry not reached before an abort has none.
   */
  async function eachEntry(phase: string, manifest: ManifestEntry[], ctx: HandlerContext, dst: Tree, fn: (e: ManifestEntry, receipts: Receipts) => Promise<FileOutcome>, concurrency = 1): Promise<FileOutcome[]> {
    const receipts = loadReceipts(octx.stateDir, ctx.volume, ctx.receiptScope);
    const slots: (FileOutcome | undefined)[] = new Array(manifest.length);
    let next = 0;
    let done = 0;
    const worker = async () => {
      while (next < manifest.length && !ctx.signal.aborted) {
        const i = next++;
        const e = manifest[i]!;
        try {
          slots[i] = await fn(e, receipts);
        } catch (err: any) {
          if (ctx.signal.aborted && err?.name === "AbortError") break; // not reached: no outcome
          slots[i] = err instanceof EntryError ? { path: e.path, ok: false, reason: err.message, ...(err.missing ? { missing: true } : {}) } : { path: e.path, ok: false, reason: errText(err) };
        }
        ctx.progress({ phase, done: ++done, total: manifest.length, current: e.path });
      }
    };
    const out: FileOutcome[] = [];
    try {
      await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, manifest.length)) }, worker));
    } finally {
      // make the renames durable: one fsync per touched directory; a failure un-verifies its files
      await dst.close();
      for (const o of slots) {
        if (!o) continue;
        const why = o.ok ? dst.unsynced.get(o.path) : undefined;
        if (why) {
          receipts.delete(o.path);
          receipts.dirty = true;
        }
        out.push(why ? { path: o.path, ok: false, reason: why } : o);
      }
      if (dst.leftoversRemoved) ctx.log.info(`${name}: removed ${dst.leftoversRemoved} temp files left by an interrupted push`);
      saveReceipts(octx.stateDir, ctx.volume, receipts);
    }
    return out;
  }

  return {
    async capabilities() {
      const warnings: string[] = [];
      if (!existsSync(root)) warnings.push(`directory ${root} does not exist yet (hoard dest init creates it)`);
      return { methods: ["blake3"], warnings, facts: { path: root } };
    },
    async init() {
      mkdirSync(root, { recursive: true });
      const top = openDest();
      try {
        if (top.stat(DEST_MARKER)) throw failure("dest_marker_exists", `${root}/${DEST_MARKER} already exists: this directory is already a hoard destination`, `if it is yours and you want a new identity, run \`hoard dest reset ${name} --yes\``);
        const id = randomUUID();
        const tmp = `${TEMP_PREFIX}${randomUUID()}`;
        const fd = top.openFile(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o644);
        try {
          writeSync(fd, JSON.stringify({ id, type: "fs", created_at: new Date().toISOString() }) + "\n");
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        try {
          top.link(tmp, top, DEST_MARKER); // never replaces a marker that appeared meanwhile
          top.unlink(tmp);
        } catch (e: any) {
          if (e?.code === "EEXIST") {
            top.unlink(tmp);
            throw failure("dest_marker_exists", `${root}/${DEST_MARKER} already exists: this directory is already a hoard destination`);
          }
          if (!NO_HARD_LINKS.has(e?.code)) throw e;
          top.rename(tmp, top, DEST_MARKER);
        }
        top.sync();
        return { id };
      } finally {
        top.close();
      }
    },
    async identify() {
      let st;
      try {
        st = lstatSync(root);
      } catch (e: any) {
        throw failure("dest_missing", `destination directory ${root} does not exist (${e.code}); is it mounted?`, `mount it, or fix destinations.${name}.path`);
      }
      if (!st.isDirectory()) throw failure("dest_not_dir", `destination path ${root} is not a directory`);
      const top = openDest();
      try {
        let fd: number;
        try {
          fd = top.openFile(DEST_MARKER, RD);
        } catch (e) {
          if (e instanceof AnchorError && e.kind === "missing") return "uninitialised";
          throw failure("dest_marker_unreadable", `cannot read ${root}/${DEST_MARKER}: ${errText(e)}`, `it must be a regular file; move it away and run \`hoard dest reset ${name} --yes\``);
        }
        try {
          if (!fstatSync(fd).isFile() || fstatSync(fd).size > 1 << 16) throw new Error("not a small regular file");
          const buf = Buffer.alloc(1 << 16);
          const n = readSync(fd, buf, 0, buf.length, 0);
          const m = JSON.parse(buf.subarray(0, n).toString("utf8"));
          if (typeof m?.id !== "string") throw new Error("no id");
          return { id: m.id };
        } catch (e: any) {
          throw failure("dest_marker_unreadable", `cannot read ${root}/${DEST_MARKER}: ${e.message}`);
        } finally {
          closeSync(fd);
        }
      } finally {
        top.close();
      }
    },
    async push(manifest, ctx) {
      const dst = destTree(true);
      let src: Tree;
      try {
        src = new Tree(openRoot(ctx.volumeRoot), false);
      } catch (e) {
        await dst.close();
        throw e;
      }
      try {
        return await eachEntry(
          "push",
          manifest,
          ctx,
          dst,
          async (e, receipts) => {
            try {
              return await checkOne(dst, e, ctx, receipts, true);
            } catch (err) {
              if (e.status === "offloaded" || !(err instanceof EntryError)) throw err;
              return transfer(src, dst, e, ctx, receipts);
            }
          },
          PUSH_CONCURRENCY,
        );
      } finally {
        await src.close();
      }
    },
    async verify(manifest, ctx) {
      const dst = destTree(false);
      return eachEntry("verify", manifest, ctx, dst, (e, receipts) => checkOne(dst, e, ctx, receipts, false));
    },
    async confirm(entries, ctx, depth) {
      // live: every answer comes from the destination now (no receipts)
      const out: FileOutcome[] = [];
      const dst = destTree(false);
      try {
        for (const e of entries) {
          if (ctx.signal.aborted) break;
          try {
            if (depth === "presence") {
              statObject(dst, e, ctx.volume);
              out.push({ path: e.path, ok: true, method: "presence", verifiedAt: api.util.nowNs() });
            } else {
              const { digest } = await readObject(dst, e, ctx.volume, ctx.signal);
              out.push(digest === e.blake3 ? { path: e.path, ok: true, method: "blake3", verifiedAt: api.util.nowNs() } : { path: e.path, ok: false, reason: differs(digest, e) });
            }
          } catch (err: any) {
            if (err instanceof EntryError) out.push({ path: e.path, ok: false, reason: err.message, ...(err.missing ? { missing: true } : {}) });
            else out.push({ path: e.path, ok: false, reason: `cannot check at ${name}: ${errText(err)}` });
          }
        }
      } finally {
        await dst.close();
      }
      return out;
    },
    async fetch(entry, target, ctx) {
      const dst = destTree(false);
      try {
        const { parents, name: base } = place(entry.path, ctx.volume);
        let fd: number;
        try {
          const dir = dst.acquire(parents);
          try {
            fd = dir.openFile(base, RD);
          } finally {
            dst.release(parents);
          }
        } catch (err) {
          throw new Error(refusal(err, name).message);
        }
        try {
          if (!fstatSync(fd).isFile()) throw new Error(`not a regular file at ${name}`);
          const out = openSync(target, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
          try {
            const buf = buffer();
            let since = 0;
            for (let pos = 0; ; ) {
              const n = readSync(fd, buf, 0, CHUNK, pos);
              if (n === 0) break;
              for (let off = 0; off < n; ) off += writeSync(out, buf, off, n - off);
              pos += n;
              if ((since += n) >= YIELD_EVERY) {
                since = 0;
                await yieldTurn();
              }
            }
          } finally {
            closeSync(out);
          }
        } finally {
          closeSync(fd);
        }
      } finally {
        await dst.close();
      }
    },
    ...fsCatalogs(api, name, openDest),
  };
}

const plugin: Plugin = {
  name: "fs",
  apiVersion: 1,
  setup(api) {
    const v = api.v;
    api.destination({
      name: "fs",
      schema: v.strictObject({ path: v.pipe(v.string(), v.check((p) => p.startsWith("/"), "must be an absolute path")) }),
      open: (o, octx) => openFs(api, o, octx),
    });
  },
};
export default plugin;
