// Verification receipts kept in the destination's local state dir: for each object, the size and
// modtime it had when its content was last proven equal to a BLAKE3, how, and when.

// A push may reuse a receipt instead of re-hashing (or re-downloading) an object whose size and
// modtime in a fresh listing are unchanged; the outcome is then `unchanged` and carries the
// receipt's time (capped at now), so the evidence never looks fresher than the check behind it.
// verify() and confirm() never reuse receipts; verify re-checks everything and refreshes them.
// Every receipt is stamped with the kernel's receipt scope (HandlerContext.receiptScope): one
// stamped with any other scope (another database, identity, epoch or an evidence rewind) is
// discarded unread.

import { createHash } from "node:crypto";
import { mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../../src/kernel/atomic.ts";

export interface Receipt {
  size: number;
  modtime: string;
  blake3: string;
  method: string;
  at: bigint;
  /** The kernel's receipt scope at the check: under any other scope the receipt never holds. */
  scope: string;
}

/**
 * The receipt scope of a context, or undefined when it has none usable (then no receipt may be
 * accepted or written: a receipt without a scope could outlive a reset or a rewind).
 */
export const scopeOf = (ctx: { receiptScope?: unknown }): string | undefined =>
  typeof ctx.receiptScope === "string" && ctx.receiptScope !== "" ? ctx.receiptScope : undefined;

/** A receipt's time as evidence: never later than now (a clock set back must not make it fresh). */
export const receiptTime = (r: Receipt, now: bigint): bigint => (r.at < now ? r.at : now);

export class Receipts {
  private map = new Map<string, Receipt>();
  /** Whether the map differs from the file (nothing to write back otherwise). */
  private dirty = false;
  private constructor(private readonly file: string) {}

  /** The receipts of one volume at one remote (keyed by both, so a changed remote starts afresh). */
  static async load(stateDir: string, remote: string, volume: string): Promise<Receipts> {
    const r = new Receipts(Receipts.fileOf(stateDir, remote, volume));
    let text = "";
    try {
      text = await readFile(r.file, "utf8");
    } catch {
      return r;
    }
    for (const line of text.split("\n")) {
      if (!line) continue;
      try {
        const o = JSON.parse(line);
        if (typeof o.p === "string" && typeof o.b === "string" && typeof o.m === "string" && typeof o.t === "string" && typeof o.s === "number" && typeof o.h === "string" && typeof o.a === "string" && /^\d+$/.test(o.a) && typeof o.c === "string" && o.c !== "")
          r.map.set(o.p, { size: o.s, modtime: o.t, blake3: o.b, method: o.h, at: BigInt(o.a), scope: o.c });
        // an unknown shape (e.g. an older, unscoped receipt) is dropped: that object is checked again
        else r.dirty = true;
      } catch {
        /* a torn line only means that object is checked again */
        r.dirty = true;
      }
    }
    return r;
  }

  private static fileOf(stateDir: string, remote: string, volume: string): string {
    const key = createHash("sha256").update(`${remote}\0${volume}`).digest("hex").slice(0, 24);
    return join(stateDir, "receipts", `${key}.ndjson`);
  }

  /** Whether there are any receipts to load (cheap: one stat). */
  static async exist(stateDir: string, remote: string, volume: string): Promise<boolean> {
    return stat(Receipts.fileOf(stateDir, remote, volume)).then(
      (st) => st.size > 0,
      () => false,
    );
  }

  get(path: string): Receipt | undefined {
    return this.map.get(path);
  }
  set(path: string, r: Receipt): void {
    const old = this.map.get(path);
    if (old && old.size === r.size && old.modtime === r.modtime && old.blake3 === r.blake3 && old.method === r.method && old.at === r.at && old.scope === r.scope) return;
    this.map.set(path, r);
    this.dirty = true;
  }
  delete(path: string): void {
    if (this.map.delete(path)) this.dirty = true;
  }
  /** Discard every receipt stamped with a scope other than this one (they are never trusted again). */
  keepScope(scope: string): void {
    for (const [p, r] of this.map)
      if (r.scope !== scope) {
        this.map.delete(p);
        this.dirty = true;
      }
  }
  get size(): number {
    return this.map.size;
  }

  /**
   * Write atomically, keeping only the given paths (the manifest's; undefined: the caller knows
   * every receipt is for one of them); nothing to do when unchanged.
   */
  async save(keep: Set<string> | undefined): Promise<void> {
    if (keep)
      for (const p of this.map.keys())
        if (!keep.has(p)) {
          this.map.delete(p);
          this.dirty = true;
        }
    if (!this.dirty) return;
    const lines: string[] = [];
    for (const [p, r] of this.map) lines.push(JSON.stringify({ p, s: r.size, t: r.modtime, b: r.blake3, h: r.method, a: String(r.at), c: r.scope, m: "v2" }));
    await mkdir(join(this.file, ".."), { recursive: true });
    await writeFileAtomic(this.file, lines.join("\n") + (lines.length ? "\n" : ""));
    this.dirty = false;
  }
}
