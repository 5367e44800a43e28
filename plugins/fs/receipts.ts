// Read-back receipts the fs destination keeps beside the data (`.hoard/receipts.ndjson`): for each
// path the BLAKE3, size and mtime last read back, and when, so unchanged files need no re-read.

import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Receipt {
  blake3: string;
  size: number;
  mtime_ns: string;
  checked_at: string; // ns since epoch, as a decimal string
  /** The destination epoch it was read back in: a receipt of an earlier epoch (before a reset) is never trusted. */
  epoch?: string;
}

const file = (volDir: string) => join(volDir, ".hoard", "receipts.ndjson");

/** Receipts by path; `dirty` is set by whoever changes one, so an unchanged set is not rewritten. */
export type Receipts = Map<string, Receipt> & { dirty?: boolean };

export function loadReceipts(volDir: string): Receipts {
  const m: Receipts = new Map<string, Receipt>();
  let text: string;
  try {
    text = readFileSync(file(volDir), "utf8");
  } catch {
    return m;
  }
  for (const line of text.split("\n")) {
    if (!line) continue;
    try {
      const r = JSON.parse(line);
      if (typeof r.path === "string" && typeof r.blake3 === "string") m.set(r.path, { blake3: r.blake3, size: r.size, mtime_ns: String(r.mtime_ns), checked_at: String(r.checked_at), ...(typeof r.epoch === "string" ? { epoch: r.epoch } : {}) });
    } catch {
      /* a torn line is ignored: that file is simply read back again */
    }
  }
  m.dirty = false;
  return m;
}

export function saveReceipts(volDir: string, m: Receipts): void {
  if (m.dirty === false) return;
  mkdirSync(join(volDir, ".hoard"), { recursive: true });
  const lines: string[] = [];
  for (const [path, r] of m) lines.push(JSON.stringify({ path, ...r }));
  const tmp = `${file(volDir)}.tmp-${process.pid}`;
  writeFileSync(tmp, lines.join("\n") + "\n");
  const fd = openSync(tmp, "r");
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, file(volDir));
}
