// The runtime adapter: everything that differs between Bun and Deno (SQLite driver, fast
// hashing backend, process facts) sits here, so the rest of hoard uses web and node: APIs only.

import { readFileSync } from "node:fs";
import { constants, hostname, release } from "node:os";
import { createRequire } from "node:module";

export const runtimeName: "bun" | "deno" | "node" =
  typeof (globalThis as any).Bun !== "undefined" ? "bun" : typeof (globalThis as any).Deno !== "undefined" ? "deno" : "node";

// ---------- SQLite ----------

export type SqlValue = string | bigint | number | null | Uint8Array;
export interface RawStatement {
  all(...params: SqlValue[]): Record<string, unknown>[];
  get(...params: SqlValue[]): Record<string, unknown> | undefined;
  run(...params: SqlValue[]): { changes: number; lastInsertRowid: bigint };
  /** Rows one at a time (a cursor: the result is never held whole). */
  iterate(...params: SqlValue[]): IterableIterator<Record<string, unknown>>;
}
export interface RawDatabase {
  exec(sql: string): void;
  prepare(sql: string): RawStatement;
  close(): void;
}

/** Wrap a driver database (bun:sqlite or node:sqlite) in the common interface, caching statements (and their wrappers: a query per row allocates nothing here). */
function wrapDriver(db: { exec(sql: string): void; prepare(sql: string): any; close(): void }, prepare: (st: any) => void): RawDatabase {
  const cache = new Map<string, RawStatement>();
  return {
    exec: (sql) => db.exec(sql),
    prepare(sql) {
      const hit = cache.get(sql);
      if (hit) return hit;
      const st = db.prepare(sql);
      prepare(st);
      const wrapped: RawStatement = {
        all: (...p) => st.all(...p),
        get: (...p) => st.get(...p) ?? undefined,
        iterate: (...p) => (typeof st.iterate === "function" ? st.iterate(...p) : st.all(...p)[Symbol.iterator]()),
        run: (...p) => {
          const r = st.run(...p);
          return { changes: Number(r.changes), lastInsertRowid: BigInt(r.lastInsertRowid) };
        },
      };
      cache.set(sql, wrapped);
      return wrapped;
    },
    close: () => db.close(),
  };
}

/** Open a SQLite database whose integers always come back as bigint (no rounding past 2^53). */
export function openSqlite(path: string): RawDatabase {
  const req = createRequire(import.meta.url);
  if (runtimeName === "bun") {
    const { Database } = req("bun:sqlite");
    return wrapDriver(new Database(path, { create: true, strict: true, safeIntegers: true }), () => {});
  }
  const { DatabaseSync } = req("node:sqlite");
  return wrapDriver(new DatabaseSync(path), (st) => st.setReadBigInts(true));
}

// ---------- BLAKE3 ----------

export interface Blake3State {
  update(chunk: Uint8Array): void;
  digestHex(): string;
}
export interface Blake3Backend {
  name: string;
  create(): Blake3State;
  /** One-shot hex digest of a whole buffer (one native call; the fast path for small files). */
  hashHex?(data: Uint8Array): string;
}

// Literal require() calls, so `bun build --compile` sees and embeds these packages (a
// createRequire()d name is invisible to the bundler: the compiled binary then failed with
// "Cannot find module"); createRequire only where require is absent (Deno ESM).
const cjs = (name: string) => createRequire(import.meta.url)(name);

function nobleBackend(): Blake3Backend {
  const { blake3 } = typeof require === "function" ? require("@noble/hashes/blake3.js") : cjs("@noble/hashes/blake3.js");
  const { bytesToHex } = typeof require === "function" ? require("@noble/hashes/utils.js") : cjs("@noble/hashes/utils.js");
  return {
    name: "noble",
    create() {
      const h = blake3.create();
      return { update: (c) => void h.update(c), digestHex: () => bytesToHex(h.digest()) };
    },
    hashHex: (data) => bytesToHex(blake3(data)),
  };
}

function nativeBackend(): Blake3Backend | undefined {
  try {
    const mod = typeof require === "function" ? require("@napi-rs/blake-hash") : cjs("@napi-rs/blake-hash");
    const Hasher = mod.Blake3Hasher;
    new Hasher().update(Buffer.alloc(1)).digest("hex");
    // one-shot digests reuse one hasher (reset, update, hex): the module's blake3() returns a Buffer
    // per call, which measured twice as slow on 4 KiB inputs and grew the RSS with the file count
    const one = new Hasher();
    return {
      name: "native",
      create() {
        const h = new Hasher();
        return {
          update: (c) => void h.update(Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength)),
          digestHex: () => h.digest("hex"),
        };
      },
      hashHex: (data) => {
        one.reset();
        one.update(Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength));
        return one.digest("hex");
      },
    };
  } catch {
    return undefined;
  }
}

let chosen: Blake3Backend | undefined;
/** The fastest BLAKE3 available: native (@napi-rs/blake-hash), else pure JS (@noble/hashes). */
export function blake3Backend(): Blake3Backend {
  if (!chosen) chosen = (process.env.HOARD_BLAKE3 === "noble" ? undefined : nativeBackend()) ?? nobleBackend();
  return chosen;
}
export const referenceBlake3 = nobleBackend;
export const nativeBlake3 = nativeBackend;

// ---------- process facts ----------

/** Start time of a process (clock ticks since boot, from /proc), or undefined if it does not exist. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm may contain spaces and parens: fields resume after the last ')'
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return rest[19]; // field 22 overall
  } catch {
    return undefined;
  }
}

/** True when a process with this pid exists (possibly owned by someone else). */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e: any) {
    return e?.code === "EPERM";
  }
}

/** This machine's host name, sanitised for use as a node name. */
export function sanitisedHostname(): string {
  const s = hostname().toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^-+|-+$/g, "");
  return s || "node";
}

// ---------- time ----------

const anchorNs = BigInt(Date.now()) * 1_000_000n;
const anchorHr = process.hrtime.bigint();
/** Wall-clock nanoseconds since the epoch, strictly as bigint (exact past 2^53). */
export function nowNs(): bigint {
  return anchorNs + (process.hrtime.bigint() - anchorHr);
}
export const nsToIso = (ns: bigint): string => new Date(Number(ns / 1_000_000n)).toISOString();

// ---------- syncfs ----------

/**
 * syncfs(2) through the runtime's FFI (bun:ffi, Deno.dlopen): make every dirty page and inode of the file
 * system holding `fd` durable, in one call; it throws with the errno when the call fails. Undefined where it
 * cannot be called, and before Linux 5.8, whose syncfs did not report write-back errors (callers then fsync
 * each file). HOARD_TEST_FS_SYNC=fsync turns it off (the tests of that path).
 */
export function syncfsCall(): ((fd: number) => void) | undefined {
  if (syncfsBound === undefined) syncfsBound = bindSyncfs() ?? null;
  return syncfsBound ?? undefined;
}
let syncfsBound: ((fd: number) => void) | null | undefined;

function bindSyncfs(): ((fd: number) => void) | undefined {
  if (process.platform !== "linux" || process.env.HOARD_TEST_FS_SYNC === "fsync") return undefined;
  const [major = 0, minor = 0] = (/^(\d+)\.(\d+)/.exec(release()) ?? []).slice(1).map(Number);
  if (major < 5 || (major === 5 && minor < 8)) return undefined;
  const fail = (errno: number) => {
    const code = Object.entries(constants.errno).find(([, n]) => n === errno)?.[0] ?? `errno ${errno}`;
    return Object.assign(new Error(`syncfs failed: ${code}`), { code });
  };
  try {
    if (runtimeName === "bun") {
      const { dlopen, FFIType, read } = cjs("bun:ffi");
      const lib = dlopen("libc.so.6", { syncfs: { args: [FFIType.i32], returns: FFIType.i32 }, __errno_location: { args: [], returns: FFIType.ptr } });
      return (fd) => {
        if (lib.symbols.syncfs(fd) !== 0) throw fail(read.i32(lib.symbols.__errno_location(), 0));
      };
    }
    if (runtimeName === "deno") {
      const D = (globalThis as any).Deno;
      const lib = D.dlopen("libc.so.6", { syncfs: { parameters: ["i32"], result: "i32" }, __errno_location: { parameters: [], result: "pointer" } });
      return (fd) => {
        if (lib.symbols.syncfs(fd) !== 0) throw fail(new D.UnsafePointerView(lib.symbols.__errno_location()).getInt32());
      };
    }
  } catch {
    // no libc.so.6 (musl), no FFI permission: the callers fsync each file
  }
  return undefined;
}
