// Receipts of the fs destination, kept in hoard's local state for that destination (never at the
// destination): per path the BLAKE3, size and mtime last read back, and when, under one scope.

import { mkdirSync, readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { writeFileAtomicSync } from "../../src/kernel/atomic.ts";

export interface Receipt {
  blake3: string;
  size: number;
  mtime_ns: string;
  checked_at: string; // ns since epoch, as a decimal string
}

/** One file per volume, named by a hash of the volume name (any name is a safe file name then). */
const file = (stateDir: string, volume: string) => join(stateDir, "receipts", `${createHash("sha256").update(volume).digest("hex").slice(0, 24)}.ndjson`);

/** Receipts by path; `dirty` is set by whoever changes one, so an unchanged set is not rewritten. */
export type Receipts = Map<string, Receipt> & { dirty?: boolean; scope: string };

/**
 * Load the receipts of a volume. The first line names the scope they were written under
 * (HandlerContext.receiptScope); under any other scope the whole set is discarded.
 */
export function loadReceipts(stateDir: string, volume: string, scope: string): Receipts {
  const m = new Map<string, Receipt>() as Receipts;
  m.scope = scope;
  m.dirty = false;
  let text: string;
  try {
    text = readFileSync(file(stateDir, volume), "utf8");
  } catch {
    return m;
  }
  const lines = text.split("\n");
  try {
    if (JSON.parse(lines[0] ?? "").scope !== scope) {
      m.dirty = true; // stale: rewrite under the current scope
      return m;
    }
  } catch {
    m.dirty = true;
    return m;
  }
  for (const line of lines.slice(1)) {
    if (!line) continue;
    try {
      const r = JSON.parse(line);
      if (typeof r.path === "string" && typeof r.blake3 === "string") m.set(r.path, { blake3: r.blake3, size: r.size, mtime_ns: String(r.mtime_ns), checked_at: String(r.checked_at) });
    } catch {
      /* a torn line is ignored: that file is simply read back again */
    }
  }
  return m;
}

export function saveReceipts(stateDir: string, volume: string, m: Receipts): void {
  if (m.dirty === false) return;
  const f = file(stateDir, volume);
  mkdirSync(join(stateDir, "receipts"), { recursive: true, mode: 0o700 });
  const lines: string[] = [JSON.stringify({ scope: m.scope })];
  for (const [path, r] of m) lines.push(JSON.stringify({ path, ...r }));
  writeFileAtomicSync(f, lines.join("\n") + "\n", { mode: 0o600 });
}
