// A small pool of worker threads hashing whole files in parallel: on large files one thread
// reaches ~0.5× of multi-threaded b3sum here, two reach ~0.8-1×. Small files stay on the caller.
//
// Compiled binaries: the worker must be an extra entrypoint, or the pool hashes on the calling
// thread (same results, one core):
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

/**
 * Below this size a round trip to a worker costs more than hashing: measured here, 4 KiB files
 * go at ~37k/s inline and ~20-30k/s through two workers.
 */
export const POOL_MIN_SIZE = 1 << 20;
/** Requests in flight per worker. */
const DEPTH = 2;

type Job = {
  id: number;
  path: string;
  signal?: AbortSignal;
  resolve(r: FileHash): void;
  reject(e: unknown): void;
  onAbort?: () => void;
};
type Slot = { worker: Worker; busy: Map<number, Job>; dead: boolean };
type WireError = { message: string; code?: string; kind?: string; hint?: string; name?: string };

/** Default pool size: the machine's cores, at most 2. */
export const defaultPoolSize = (): number => Math.max(1, Math.min(2, availableParallelism()));

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

/** A pool of n worker threads (clamped to 1..cores; 0 hashes everything on the calling thread). */
export function createHashPool(n: number = defaultPoolSize()): HashPool {
  const entry = n > 0 ? workerEntry() : undefined;
  const want = entry ? Math.max(1, Math.min(Math.floor(n) || 1, availableParallelism())) : 0;
  const queue: Job[] = [];
  let nextId = 1;
  let closed = false;
  const slots: Slot[] = [];

  for (let i = 0; i < want; i++) {
    let worker: Worker;
    try {
      worker = new Worker(entry!, { type: "module" });
    } catch {
      break;
    }
    const slot: Slot = { worker, busy: new Map(), dead: false };
    worker.onmessage = (ev: MessageEvent<{ id: number; result?: FileHash; error?: WireError }>) => {
      const { id, result, error } = ev.data;
      const job = slot.busy.get(id);
      if (!job) return;
      slot.busy.delete(id);
      settle(job, () => (error ? job.reject(revive(error)) : job.resolve(result!)));
      pump();
    };
    worker.onerror = (ev: ErrorEvent) => {
      // The worker itself failed (not a file: hashing errors come back as messages). Its jobs
      // go back to the queue; when no worker is left they are hashed on this thread.
      ev.preventDefault?.();
      slot.dead = true;
      worker.terminate();
      queue.unshift(...slot.busy.values());
      slot.busy.clear();
      pump();
    };
    (worker as { unref?: () => void }).unref?.();
    slots.push(slot);
  }

  function settle(job: Job, f: () => void) {
    if (job.onAbort) job.signal?.removeEventListener("abort", job.onAbort);
    f();
  }

  function runInline(job: Job) {
    hashInline(job.path, { signal: job.signal }).then(
      (r) => settle(job, () => job.resolve(r)),
      (e) => settle(job, () => job.reject(e)),
    );
  }

  function pump() {
    if (slots.every((s) => s.dead)) {
      for (const job of queue.splice(0)) runInline(job);
      return;
    }
    while (queue.length > 0) {
      let best: Slot | undefined;
      for (const s of slots) if (!s.dead && s.busy.size < DEPTH && (!best || s.busy.size < best.busy.size)) best = s;
      if (!best) break;
      const job = queue.shift()!;
      best.busy.set(job.id, job);
      best.worker.postMessage({ id: job.id, path: job.path });
    }
    // Idle workers must not keep the process alive; busy ones must.
    for (const s of slots) {
      if (!s.dead) (s.worker as { ref?: () => void; unref?: () => void })[s.busy.size > 0 ? "ref" : "unref"]?.();
    }
  }

  return {
    size: slots.length,
    hashFile(path, opts = {}) {
      if (closed) return Promise.reject(new Error("hash pool is closed"));
      const { signal, size } = opts;
      if (slots.length === 0 || (size !== undefined && Number(size) < POOL_MIN_SIZE)) return hashInline(path, { signal });
      return new Promise<FileHash>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const job: Job = { id: nextId++, path, signal, resolve, reject };
        if (signal) {
          job.onAbort = () => {
            const qi = queue.indexOf(job);
            if (qi >= 0) queue.splice(qi, 1);
            for (const s of slots) if (s.busy.delete(job.id)) s.worker.postMessage({ cancel: job.id });
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
        for (const job of s.busy.values()) settle(job, () => job.reject(err));
        s.busy.clear();
        s.dead = true;
        s.worker.terminate();
      }
    },
  };
}
