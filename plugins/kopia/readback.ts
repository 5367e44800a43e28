// Reading kopia objects back into BLAKE3: small objects restored in batches (one `kopia restore` of
// placeholder files per batch, into a private temp dir, hashed, deleted), large ones streamed by `kopia show`.

import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { errorText, type Kopia } from "./exec.ts";

export interface ReadItem {
  obj: string;
  size: number;
}
export type ReadResult = { ok: true; b3: string; at: bigint } | { ok: false; error: string };

export interface ReadEnv {
  /** A private directory (hoard's state) under which batches are restored. */
  tmpRoot: string;
  signal: AbortSignal;
  blake3File(path: string): Promise<string>;
  blake3Stream(): { update(chunk: Uint8Array): void; digestHex(): string };
  now(): bigint;
  progress(done: number, total: number, bytes: number): void;
}

/** Objects larger than this are streamed (no temp copy); smaller ones are restored in batches. */
export const STREAM_OVER = 64 * 1024 * 1024;
const BATCH_FILES = 256;
const BATCH_BYTES = 256 * 1024 * 1024;
/** kopia's placeholder suffix (fs/localfs/shallowentry.go): `X.kopia-entry` restores to X. */
const PLACEHOLDER = ".kopia-entry";

/** Stream one object's bytes into BLAKE3 (`kopia show OBJ`). */
export async function streamObject(k: Kopia, obj: string, env: ReadEnv): Promise<ReadResult> {
  const h = env.blake3Stream();
  const r = await k.run(["show", obj, ...k.common()], { sink: (b) => h.update(b), signal: env.signal });
  if (r.code !== 0) return { ok: false, error: errorText(r) };
  return { ok: true, b3: h.digestHex(), at: env.now() };
}

/**
 * BLAKE3 of every object's bytes as kopia gives them back now, one result per distinct object.
 * A batch restore that leaves an object unrestored (kopia error, unsupported placeholders) is
 * retried object by object with `kopia show`, whose error is then the object's.
 */
export async function readBack(k: Kopia, items: ReadItem[], env: ReadEnv): Promise<Map<string, ReadResult>> {
  const out = new Map<string, ReadResult>();
  const uniq = new Map<string, number>();
  for (const it of items) uniq.set(it.obj, it.size);
  const total = uniq.size;
  let bytes = 0;
  const tick = () => env.progress(out.size, total, bytes);
  const small: ReadItem[] = [];
  for (const [obj, size] of uniq) {
    if (size > STREAM_OVER) continue;
    small.push({ obj, size });
  }
  if (small.length > 0) {
    mkdirSync(env.tmpRoot, { recursive: true, mode: 0o700 });
    const dir = mkdtempSync(join(env.tmpRoot, "readback-"));
    try {
      for (let i = 0; i < small.length && !env.signal.aborted; ) {
        const batch: ReadItem[] = [];
        let sum = 0;
        while (i < small.length && batch.length < BATCH_FILES && (batch.length === 0 || sum + small[i]!.size <= BATCH_BYTES)) {
          sum += small[i]!.size;
          batch.push(small[i++]!);
        }
        const got = await restoreBatch(k, batch, dir, env);
        for (const it of batch) {
          let r = got.get(it.obj);
          if (!r && !env.signal.aborted) r = await streamObject(k, it.obj, env);
          if (r) out.set(it.obj, r);
          bytes += it.size;
        }
        tick();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  for (const [obj, size] of uniq) {
    if (size <= STREAM_OVER || env.signal.aborted) continue;
    out.set(obj, await streamObject(k, obj, env));
    bytes += size;
    tick();
  }
  return out;
}

/** One `kopia restore` of placeholder files, each naming one object; hashes what it wrote. */
async function restoreBatch(k: Kopia, batch: ReadItem[], dir: string, env: ReadEnv): Promise<Map<string, ReadResult>> {
  const got = new Map<string, ReadResult>();
  for (const n of readdirSync(dir)) rmSync(join(dir, n), { recursive: true, force: true });
  const args: string[] = [];
  batch.forEach((it, i) => {
    const ph = join(dir, `${i}${PLACEHOLDER}`);
    // a snapshot.DirEntry (snapshot/manifest.go); type "f": restored as a regular file whatever the object holds
    writeFileSync(ph, JSON.stringify({ name: String(i), type: "f", mode: "0600", size: it.size || undefined, obj: it.obj }) + "\n", { mode: 0o600 });
    args.push(ph);
  });
  await k.run(["restore", "--ignore-errors", "--write-files-atomically", "--skip-owners", "--skip-permissions", "--skip-times", ...k.common(), ...args], { signal: env.signal, maxStdout: 64 * 1024 });
  for (let i = 0; i < batch.length; i++) {
    const target = join(dir, String(i));
    let isFile = false;
    try {
      isFile = lstatSync(target).isFile();
    } catch {}
    if (!isFile || env.signal.aborted) continue;
    try {
      const b3 = await env.blake3File(target);
      got.set(batch[i]!.obj, { ok: true, b3, at: env.now() });
    } catch {
      /* unreadable here: `show` decides */
    }
    rmSync(target, { force: true });
  }
  return got;
}
