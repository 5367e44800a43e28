// Parallel hashing of whole files: worker threads plus the calling thread, one file each at a
// time. On large files one thread reaches ~0.5× of multi-threaded b3sum here, two ~0.8-1×.
//
// Compiled binaries: the worker must be an extra entrypoint, or only the calling thread hashes
// (same results, one core):
//   bun build src/cli/main.ts src/kernel/hashworker.ts --compile --outfile dist/hoard

import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { hashFile as hashInline, type FileHash, type HashOptions } from "./hash.ts";
import { HoardError, type ErrorKind } from "./errors.ts";

export interface PoolHashOptions extends HashOptions {
  /** Expected size (e.g. from lstat). Below 1 MiB the file is hashed on the calling thread. */
  size?: number | bigint;
}

export interface HashPool {
  /** Number of worker threads (0: everything is hashed on the calling thread). */
  readonly size: number;
  /** Same result and errors as hashFile() in hash.ts. */
  hashFile(path: string, opts?: PoolHashOptions): Promise<FileHash>;
  /** Stop the workers; pending and later requests are rejected. */
  close(): Promise<void>;
}

export interface PoolOptions {
  /**
   * The calling thread hashes too, one file at a time, whenever it is not already hashing one
   * (default true): it covers the workers' start-up (~20-90 ms) and adds a core.
   */
  callerHashes?: boolean;
}

/**
 * Below this size a round trip to a worker costs more than hashing: measured here, 4 KiB files
 * go at ~37k/s inline and ~20-30k/s through two workers.
 */
export const POOL_MIN_SIZE = 1 << 20;

type Job = {
  path: string;
  signal?: AbortSignal;
  resolve(r: FileHash): void;
  reject(e: unknown): void;
  onAbort?: () => void;
  cancel?: () => void;
};
type Slot = { worker: Worker; job?: Job; jobId: number; ready: boolean; dead: boolean };
type WireError = { message: string; code?: string; kind?: string; hint?: string; name?: string };

/** Worker threads to start by default: one per core beyond the calling thread's, at most 2. */
export const defaultPoolSize = (): number => Math.max(1, Math.min(2, availableParallelism() - 1));

/** Where the worker script is: beside this file from source; an embedded entrypoint when compiled. */
function workerEntry(): string | URL | undefined {
  const url = import.meta.url;
  if (!url.includes("$bunfs") && !url.includes("%24bunfs")) return new URL("./hashworker.ts", url);
  // `bun build --compile a.ts b.ts` stores extra entrypoints relative to the entrypoints'
  // common directory, as .js, next to the executable's own module.
  const dir = (import.meta as { dir?: string }).dir ?? "/$bunfs/root";
  for (const rel of ["kernel/hashworker.js", "src/kernel/hashworker.js", "hashworker.js"]) {
    const p = `${dir}/${rel}`;
    if (existsSync(p)) return p;
  }
  return undefined;
}

function revive(e: WireError): Error {
  if (e.kind) return new HoardError(e.kind as ErrorKind, e.code ?? "hash_failed", e.message, { hint: e.hint });
  const err = new Error(e.message) as Error & { code?: string };
  if (e.name) err.name = e.name;
  if (e.code) err.code = e.code;
  return err;
}

/**
 * A pool of n worker threads (clamped to 0..cores). With n = 0, or when the worker script is
 * not available, every file is hashed on the calling thread.
 */
export function createHashPool(n: number = defaultPoolSize(), opts: PoolOptions = {}): HashPool {
  const callerHashes = opts.callerHashes ?? true;
  const entry = n > 0 ? workerEntry() : undefined;
  const want = entry ? Math.max(0, Math.min(Math.floor(n) || 0, availableParallelism())) : 0;
  const queue: Job[] = [];
  let nextId = 1;
  let closed = false;
  let inlineBusy = false;
  const slots: Slot[] = [];

  for (let i = 0; i < want; i++) {
    let worker: Worker;
    try {
      worker = new Worker(entry!, { type: "module" });
    } catch {
      break;
    }
    const slot: Slot = { worker, jobId: 0, ready: false, dead: false };
    worker.onmessage = (ev: MessageEvent<{ ready?: true; id?: number; result?: FileHash; error?: WireError }>) => {
      const { ready, id, result, error } = ev.data;
      if (ready) slot.ready = true;
      else if (slot.job && id === slot.jobId) {
        const job = slot.job;
        slot.job = undefined;
        settle(job, () => (error ? job.reject(revive(error)) : job.resolve(result!)));
      }
      pump();
    };
    worker.onerror = (ev: ErrorEvent) => {
      // The worker itself failed (not a file: hashing errors come back as messages). Its job
      // goes back to the queue for the others, or for the calling thread.
      ev.preventDefault?.();
      slot.dead = true;
      worker.terminate();
      if (slot.job) queue.unshift(slot.job);
      slot.job = undefined;
      pump();
    };
    (worker as { unref?: () => void }).unref?.();
    slots.push(slot);
  }

  function settle(job: Job, f: () => void) {
    if (job.onAbort) job.signal?.removeEventListener("abort", job.onAbort);
    f();
  }

  function startInline() {
    const job = queue.shift()!;
    inlineBusy = true;
    job.cancel = undefined;
    // Start on the next turn so hashFile() returns before a long synchronous read begins.
    setImmediate(() => {
      hashInline(job.path, { signal: job.signal })
        .then(
          (r) => settle(job, () => job.resolve(r)),
          (e) => settle(job, () => job.reject(e)),
        )
        .finally(() => {
          inlineBusy = false;
          pump();
        });
    });
  }

  function pump() {
    if (closed) return;
    for (const s of slots) {
      if (queue.length === 0) break;
      if (s.dead || !s.ready || s.job) continue;
      const job = queue.shift()!;
      s.job = job;
      s.jobId = nextId++;
      const id = s.jobId;
      job.cancel = () => {
        if (s.job === job) {
          s.job = undefined; // its reply will be ignored; the worker stops at its next yield
          s.worker.postMessage({ cancel: id });
        }
      };
      s.worker.postMessage({ id, path: job.path });
    }
    const live = slots.some((s) => !s.dead);
    if (queue.length > 0 && !inlineBusy && (callerHashes || !live)) startInline();
    // Idle workers must not keep the process alive; busy ones must.
    for (const s of slots) {
      if (!s.dead) (s.worker as { ref?: () => void; unref?: () => void })[s.job ? "ref" : "unref"]?.();
    }
  }

  return {
    size: slots.length,
    hashFile(path, o = {}) {
      if (closed) return Promise.reject(new Error("hash pool is closed"));
      const { signal, size } = o;
      if (slots.length === 0 || (size !== undefined && Number(size) < POOL_MIN_SIZE)) return hashInline(path, { signal });
      return new Promise<FileHash>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const job: Job = { path, signal, resolve, reject };
        if (signal) {
          job.onAbort = () => {
            const qi = queue.indexOf(job);
            if (qi >= 0) queue.splice(qi, 1);
            job.cancel?.();
            settle(job, () => reject(signal.reason));
            pump();
          };
          signal.addEventListener("abort", job.onAbort, { once: true });
        }
        queue.push(job);
        pump();
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      const err = new Error("hash pool is closed");
      for (const job of queue.splice(0)) settle(job, () => job.reject(err));
      for (const s of slots) {
        if (s.job) {
          const job = s.job;
          settle(job, () => job.reject(err));
        }
        s.job = undefined;
        s.dead = true;
        s.worker.terminate();
      }
    },
  };
}
