// Reading objects back from an rclone destination into BLAKE3: large ones streamed (`rclone cat`),
// the rest downloaded in bounded batches to a private directory; each judged against the index.

import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { FileOutcome, HandlerContext, ManifestEntry } from "../../src/kernel/plugin.ts";
import { CopyLog } from "./log.ts";
import { standardLocalPath, standardPath } from "./names.ts";
import { joinRemote } from "./options.ts";
import { checkerArgs, filesFromRaw, type Target } from "./listing.ts";

/**
 * The outcome of one object read back (streamed or downloaded): its byte count, then its BLAKE3,
 * against the index; a differing digest is a content mismatch (push copies such a file again).
 */
async function judgeReadBack(t: Target, e: ManifestEntry, bytes: number, digest: () => string | Promise<string>, at: bigint, out: Map<string, FileOutcome>, mismatch: Set<string>): Promise<void> {
  if (bytes !== e.size) {
    out.set(e.path, { path: e.path, ok: false, reason: `read back ${bytes} bytes from ${t.dest}, expected ${e.size}` });
    return;
  }
  const got = await digest();
  if (got !== e.blake3.toLowerCase()) {
    out.set(e.path, { path: e.path, ok: false, reason: `content read back from ${t.dest} differs (BLAKE3 ${got.slice(0, 16)}…, expected ${e.blake3.slice(0, 16)}…)` });
    mismatch.add(e.path);
  } else out.set(e.path, { path: e.path, ok: true, method: "blake3", verifiedAt: at });
}

/** How many objects are streamed back at once. */
const STREAM_JOBS = 2;

/**
 * Stream each object back (`rclone cat`, one process per object: used for large objects only)
 * into BLAKE3 and compare with the index. The exit code, the byte count and the digest must all
 * agree; the outcome's time is when its read began.
 */
export async function streamAndHash(t: Target, cands: ManifestEntry[], ctx: HandlerContext, out: Map<string, FileOutcome>, mismatch: Set<string>, unread?: Set<string>) {
  const total = cands.length;
  const totalBytes = cands.reduce((s, e) => s + e.size, 0);
  let done = 0;
  let doneBytes = 0;
  let next = 0;
  const one = async (e: ManifestEntry) => {
    const h = ctx.blake3Stream();
    let bytes = 0;
    const at = ctx.now();
    const r = await t.rc.run(["cat", joinRemote(t.volumeDir, standardPath(e.path))], {
      signal: ctx.signal,
      onStdoutData: (c) => {
        h.update(c);
        bytes += c.byteLength;
      },
    });
    if (ctx.signal.aborted) return out.set(e.path, { path: e.path, ok: false, reason: "aborted before it was read back" });
    if (r.code !== 0) {
      unread?.add(e.path);
      return out.set(e.path, { path: e.path, ok: false, reason: `could not read it back from ${t.dest}: ${t.rc.describeFailure("cat", r)}` });
    }
    await judgeReadBack(t, e, bytes, () => h.digestHex(), at, out, mismatch);
  };
  const worker = async () => {
    while (next < cands.length) {
      const e = cands[next++]!;
      if (ctx.signal.aborted) out.set(e.path, { path: e.path, ok: false, reason: "aborted before it was read back" });
      else await one(e);
      done++;
      doneBytes += e.size;
      ctx.progress({ phase: "read back", done, total, bytes: doneBytes, totalBytes, current: e.path });
    }
  };
  await Promise.all(Array.from({ length: Math.min(STREAM_JOBS, cands.length) }, worker));
}

/** Bytes per download batch (a single larger file is its own batch) and files per batch. */
const BATCH_BYTES = 256 * 1024 * 1024;
const BATCH_FILES = 2000;

/**
 * Read files back: copy a batch into a private temp directory with `rclone copy --files-from-raw`,
 * BLAKE3 each file, delete it. Disk use stays bounded by one batch.
 */
export async function downloadAndHash(t: Target, cands: ManifestEntry[], ctx: HandlerContext, out: Map<string, FileOutcome>, mismatch: Set<string>, unread?: Set<string>) {
  if (cands.length === 0) return;
  const batches: ManifestEntry[][] = [];
  let cur: ManifestEntry[] = [];
  let bytes = 0;
  for (const e of cands) {
    if (cur.length && (bytes + e.size > BATCH_BYTES || cur.length >= BATCH_FILES)) {
      batches.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(e);
    bytes += e.size;
  }
  if (cur.length) batches.push(cur);
  const total = cands.length;
  const totalBytes = cands.reduce((s, e) => s + e.size, 0);
  let done = 0;
  let doneBytes = 0;
  await mkdir(t.stateDir, { recursive: true });
  for (const batch of batches) {
    if (ctx.signal.aborted) {
      for (const e of batch) out.set(e.path, { path: e.path, ok: false, reason: "aborted before it was read back" });
      continue;
    }
    const dir = await mkdtemp(join(t.stateDir, "download-"));
    try {
      const at = ctx.now();
      const log = new CopyLog({ debug: (m) => ctx.log.debug(t.rc.redact(m)) });
      const r = await t.rc.run(
        ["copy", t.volumeDir, standardLocalPath(dir), "--files-from-raw", "-", "--no-traverse", "--use-json-log", "-v", ...checkerArgs(t)],
        { stdin: filesFromRaw(batch), signal: ctx.signal, onStderrLine: (l) => log.line(l) },
      );
      const errors = log.objectErrors(r.code);
      const failed = r.code !== 0 ? t.rc.describeFailure("copy (read back)", r) : "";
      for (const e of batch) {
        const p = join(dir, ...e.path.split("/"));
        const st = await stat(p).catch(() => undefined);
        if (ctx.signal.aborted) out.set(e.path, { path: e.path, ok: false, reason: "aborted before it was read back" });
        else if (!st || !st.isFile()) {
          const err = errors.get(standardPath(e.path));
          unread?.add(e.path);
          out.set(e.path, { path: e.path, ok: false, reason: `could not read it back from ${t.dest}: ${t.rc.redact(err ?? (failed || "rclone did not download it"))}` });
        } else await judgeReadBack(t, e, st.size, () => ctx.blake3File(p), at, out, mismatch);
        await rm(p, { force: true });
        done++;
        doneBytes += e.size;
        ctx.progress({ phase: "download", done, total, bytes: doneBytes, totalBytes, current: e.path });
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
