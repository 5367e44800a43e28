// Worker-thread side of the hash pool (src/kernel/hashpool.ts): hashes one file per request
// with hashFile and posts the result or the error back; a cancel message aborts a request.

import { hashBytes, hashFile } from "./hash.ts";

type Request = { id: number; path: string } | { cancel: number };

// `self` in a Bun/web worker; parentPort-free so the same file works under Bun and Deno.
const port = globalThis as unknown as {
  onmessage: ((ev: MessageEvent<Request>) => void) | null;
  postMessage(msg: unknown): void;
};

const running = new Map<number, AbortController>();

port.onmessage = (ev) => {
  const msg = ev.data;
  if ("cancel" in msg) {
    running.get(msg.cancel)?.abort(new Error("hashing cancelled"));
    return;
  }
  const ac = new AbortController();
  running.set(msg.id, ac);
  hashFile(msg.path, { signal: ac.signal }).then(
    (result) => {
      running.delete(msg.id);
      port.postMessage({ id: msg.id, result });
    },
    (e: any) => {
      running.delete(msg.id);
      port.postMessage({
        id: msg.id,
        error: { message: String(e?.message ?? e), code: e?.code, kind: e?.kind, hint: e?.hint, name: e?.name },
      });
    },
  );
};

// Load the BLAKE3 backend now, then tell the pool this worker can take work.
hashBytes(new Uint8Array(0));
port.postMessage({ ready: true });
