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

const HEX = /^[0-9a-f]{64}$/;
const DIGITS = /^[0-9]{1,19}$/;
/** A decimal integer that fits the columns (0 … 2^63-1). */
const int64 = (s: string): boolean => DIGITS.test(s) && BigInt(s) <= 0x7fffffffffffffffn;

/**
 * Receipts by path, `dirty` set by whoever changes one (an unchanged set is not rewritten). Kept in
 * columns (the digest as 32 bytes, the times as integers), a receipt object made only when asked for:
 * a volume's receipts are held for a whole push, one per file.
 */
export class Receipts {
  dirty = false;
  private readonly ix = new Map<string, number>();
  private readonly free: number[] = [];
  private n = 0;
  private digests = new Uint8Array(32 * 1024);
  private sizes = new Float64Array(1024);
  private mtimes = new BigInt64Array(1024);
  private checked = new BigInt64Array(1024);
  constructor(readonly scope: string) {}

  get size(): number {
    return this.ix.size;
  }
  get(path: string): Receipt | undefined {
    const i = this.ix.get(path);
    return i === undefined ? undefined : this.at(i);
  }
  /** A receipt whose digest is not lowercase hex or whose times are not decimal integers is not kept (that file is read back again). */
  set(path: string, r: Receipt): void {
    if (!HEX.test(r.blake3) || !int64(r.mtime_ns) || !int64(r.checked_at) || !(r.size >= 0)) {
      this.delete(path);
      return;
    }
    let i = this.ix.get(path);
    if (i === undefined) {
      i = this.free.pop() ?? this.n++;
      if (i >= this.sizes.length) this.grow();
      this.ix.set(path, i);
    }
    Buffer.from(this.digests.buffer, this.digests.byteOffset, this.digests.byteLength).write(r.blake3, i * 32, 32, "hex");
    this.sizes[i] = r.size;
    this.mtimes[i] = BigInt(r.mtime_ns);
    this.checked[i] = BigInt(r.checked_at);
  }
  delete(path: string): boolean {
    const i = this.ix.get(path);
    if (i === undefined) return false;
    this.ix.delete(path);
    this.free.push(i);
    return true;
  }
  *[Symbol.iterator](): IterableIterator<[string, Receipt]> {
    for (const [path, i] of this.ix) yield [path, this.at(i)];
  }

  private at(i: number): Receipt {
    return { blake3: Buffer.from(this.digests.buffer, this.digests.byteOffset + i * 32, 32).toString("hex"), size: this.sizes[i]!, mtime_ns: String(this.mtimes[i]!), checked_at: String(this.checked[i]!) };
  }
  private grow(): void {
    const k = this.sizes.length * 2;
    const digests = new Uint8Array(32 * k);
    digests.set(this.digests);
    this.digests = digests;
    const sizes = new Float64Array(k);
    sizes.set(this.sizes);
    this.sizes = sizes;
    const mtimes = new BigInt64Array(k);
    mtimes.set(this.mtimes);
    this.mtimes = mtimes;
    const checked = new BigInt64Array(k);
    checked.set(this.checked);
    this.checked = checked;
  }
}

/**
 * Load the receipts of a volume. The first line names the scope they were written under
 * (HandlerContext.receiptScope); under any other scope the whole set is discarded.
 */
export function loadReceipts(stateDir: string, volume: string, scope: string): Receipts {
  const m = new Receipts(scope);
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
  for (let k = 1; k < lines.length; k++) {
    const line = lines[k]!;
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
