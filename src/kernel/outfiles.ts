// A child's output through files instead of pipes (see spawn.ts): private unlinked temp files,
// followed while it runs, read whole or by tail once it has exited; output split into lines.

import { fstatSync, mkdtempSync, openSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** An unlinked temporary file open for reading and writing: nothing is left behind, even on a crash. */
export function anonymousFile(): number {
  const dir = mkdtempSync(join(tmpdir(), "hoard-out-"));
  try {
    return openSync(join(dir, "stdout"), "w+", 0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `want` bytes of the file behind fd from `from` on (positioned reads: the shared offset is the child's). */
function readRange(fd: number, from: number, want: number): Buffer {
  const buf = Buffer.allocUnsafe(want);
  let off = 0;
  while (off < want) {
    const n = readSync(fd, buf, off, want - off, from + off);
    if (n === 0) break;
    off += n;
  }
  return buf.subarray(0, off);
}

/** Everything written to the file behind fd (at most `max` characters). */
export function readAll(fd: number, max: number | undefined): string {
  const size = Number(fstatSync(fd).size);
  const s = readRange(fd, 0, max === undefined ? size : Math.min(size, max * 4)).toString("utf8");
  return max === undefined ? s : s.slice(0, max);
}

/** The last `keep` characters written to the file behind fd. */
export function readTail(fd: number, keep: number): string {
  const size = Number(fstatSync(fd).size);
  const from = Math.max(0, size - keep * 4);
  return readRange(fd, from, size - from).toString("utf8").slice(-keep);
}

/** Follows a file a child writes to: each poll hands on the bytes that arrived since the last one. */
export function follower(fd: number, onChunk: (b: Uint8Array) => void): () => void {
  let offset = 0;
  const buf = Buffer.allocUnsafe(1 << 20);
  return () => {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, offset);
      if (n === 0) return;
      offset += n;
      onChunk(new Uint8Array(buf.subarray(0, n)));
    }
  };
}

/** Text pushed in pieces, handed on line by line (the last, unterminated line at end()). */
export function lineSplitter(cb: ((l: string) => void) | undefined) {
  let buf = "";
  return {
    push(s: string) {
      if (!cb) return;
      buf += s;
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        cb(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    },
    end() {
      if (cb && buf) cb(buf);
      buf = "";
    },
  };
}
