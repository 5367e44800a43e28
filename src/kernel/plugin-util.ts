// api.util of the plugin API: the helpers every plugin gets (secrets, durations, spawning, hashing,
// atomic writes, catalog rules, anchored directory handles, typed errors).

import type { GenericSchema } from "valibot";

export interface SpawnResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** Stopped by `timeoutMs` (its process group terminated, then killed). */
  timedOut?: boolean;
}

/** How api.util.spawn runs a command (always without a shell, in a process group of its own). */
export interface SpawnOptions {
  /** Overlaid on hoard's own environment (undefined removes a variable); with `inheritEnv: false`, the whole environment. */
  env?: Record<string, string | undefined>;
  /** false: the child sees only `env`. Default true. */
  inheritEnv?: boolean;
  cwd?: string;
  /** Abort kills the child's whole process group. */
  signal?: AbortSignal;
  stdin?: string;
  onStderrLine?(line: string): void;
  onStdoutLine?(line: string): void;
  /** Keep at most this many characters of stdout (default unlimited). */
  maxStdout?: number;
  /**
   * Send stdout to a private, already unlinked temporary file and read it once the command has
   * exited, instead of through a pipe: for large outputs (a listing of 100,000 objects) far cheaper.
   * onStdoutLine is then called for every line after the command exits.
   */
  stdoutToFile?: boolean;
  /** Every chunk of stdout as raw bytes, as it arrives (e.g. a file streamed back to be hashed); stdout is then not kept. */
  onStdoutData?(chunk: Uint8Array): void;
  /** Throw stdout away (a hook's output is not hoard's). */
  discardStdout?: boolean;
  /** Called with the child's pid (also its process group id) once it has started. */
  onStart?(pid: number): void;
  /** After this long, SIGTERM to the child's process group, `killGraceMs` (default 2000) for it to go, then SIGKILL. */
  timeoutMs?: number;
  killGraceMs?: number;
  /**
   * Once the child has exited, wait at most this long for its output streams to end (a background
   * grandchild may hold them open). Default: until they end. Output through files never waits.
   */
  settleMs?: number;
}

/** What an anchored operation could not get past: a symlink (never followed), a non-directory, a missing entry. */
export type AnchorKind = "symlink" | "not_dir" | "missing" | "io";

/** lstat of one entry of an anchored directory (bigint fields, like node:fs's BigIntStats). */
export interface AnchoredStat {
  size: bigint;
  mode: bigint;
  ino: bigint;
  dev: bigint;
  mtimeNs: bigint;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

/**
 * An open directory handle (Linux, through /proc/self/fd): every operation names one entry of this
 * very directory, and no symlink is ever followed, wherever the directory has been moved since. A
 * failure to reach an entry throws an Error with `kind: AnchorKind`. Close what you open.
 */
export interface AnchoredDir {
  /** For messages only: nothing resolves it again. */
  readonly path: string;
  /** `/proc/self/fd/N/name`: the entry `name` (one component) of this directory, for node:fs calls or writeFileAtomic. */
  at(name: string): string;
  /** The directory `parts` below this one, each component a real directory (with create: made when missing). */
  openDir(parts: string[], opts?: { create?: boolean }): AnchoredDir;
  /** A descriptor of the entry `name` (O_NOFOLLOW always added): `flags` from node:fs `constants`. */
  openFile(name: string, flags: number, mode?: number): number;
  /** lstat of `name`, or undefined when there is no such entry. */
  stat(name: string): AnchoredStat | undefined;
  unlink(name: string): void;
  /** rename(2) of `from` here to `to` in `toDir` (replaces `to`). */
  rename(from: string, toDir: AnchoredDir, to: string): void;
  /** A second name `to` in `toDir` for `from`; fails with EEXIST rather than replace anything. */
  link(from: string, toDir: AnchoredDir, to: string): void;
  mkdir(name: string, mode?: number): void;
  list(): string[];
  /** fsync of the directory itself (its entry changes become durable). */
  sync(): void;
  close(): void;
}

export interface PluginUtil {
  /** A valibot schema for a secret: a string, or { env = "VAR" } resolved from the environment. */
  secret(): GenericSchema<unknown, string>;
  /** Parse "30d", "12h", "1h30m" into nanoseconds. */
  parseDuration(s: string): bigint;
  formatDuration(ns: bigint): string;
  /**
   * Spawn a tool without a shell, in its own process group; never put secrets in args (pass them in
   * env). Rejects only when the command cannot be started. See SpawnOptions.
   */
  spawn(cmd: string, args: string[], opts?: SpawnOptions): Promise<SpawnResult>;
  /** BLAKE3 hex of a local file. */
  blake3File(path: string): Promise<string>;
  blake3Stream(): { update(chunk: Uint8Array): void; digestHex(): string };
  nowNs(): bigint;
  /**
   * Replace `path` atomically: a reader or a crash sees the old file or the whole new one. Temp file
   * beside it (O_EXCL), fsync, rename onto the name (with `replace: false`: link, failing with EEXIST
   * if the name exists), fsync of the directory; on error the temp is removed. `data` may be an
   * (async) iterable of chunks: one that throws (a hash check at its end) leaves `path` untouched.
   * The final name is never followed. `path` may be an anchored entry, `dir.at(name)`.
   */
  writeFileAtomic(path: string, data: string | Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>, opts?: { replace?: boolean; mode?: number }): Promise<void>;
  /** Rules shared by destinations that store each catalog as an object of their own (e.g. a snapshot). */
  catalogs: {
    /** Whether `name` is a catalog name (`<20 digits>-<BLAKE3 hex>.hcat`). */
    isName(name: string): boolean;
    /** Throws bad_catalog_name unless `name` is a catalog name. */
    checkName(dest: string, name: string): void;
    /**
     * The bytes of the first copy of `name` whose bytes hash to it, else of the first readable copy;
     * catalog_missing without copies, catalog_read (with `hint`) when none can be read.
     */
    read<T>(o: { dest: string; volume: string; name: string; copies: readonly T[]; read(copy: T): Promise<Uint8Array | { error: string }>; hint: string }): Promise<Uint8Array>;
    /**
     * putCatalog's never-replace rule: false when the name is not `stored` yet; true when it holds these
     * very bytes (nothing to write); catalog_name_taken (with `hint`) when it holds other bytes.
     */
    alreadyStored(o: { dest: string; name: string; bytes: Uint8Array; stored: boolean; read(): Promise<Uint8Array>; hint: string }): Promise<boolean>;
  };
  /** Anchored filesystem work: directory handles opened one component at a time, never following a symlink. */
  anchored: {
    /** Open a trusted root directory (e.g. from the config) as the anchor of everything below it. Refuses without /proc. */
    openRoot(path: string): AnchoredDir;
    /** Split a "/"-separated relative path into parent components and final name (throws on "", ".", ".."). */
    splitRel(rel: string): { parents: string[]; name: string };
  };
  /** Typed errors that map to exit codes: refused (3), failure (1), config (2). */
  errors: {
    refused(code: string, msg: string, hint?: string): Error;
    failure(code: string, msg: string, hint?: string): Error;
    config(code: string, msg: string, hint?: string): Error;
  };
}
