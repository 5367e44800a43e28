// Helpers of the staleness tests: an fs world with max_evidence_age settings, and ageing evidence
// (DB verified_at and the fs destination's read-back receipts) by editing the data directly.

import { Database } from "bun:sqlite";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fsWorld, type World } from "../helpers.ts";

export const DAY = 86_400n * 1_000_000_000n;

/** fsWorld with `max_evidence_age` at the top level (root) and/or on destinations. */
export function staleWorld(o: { root?: string; dests?: Record<string, string>; extraDests?: string[]; require?: string[]; files?: Record<string, string> } = {}): World {
  const w = fsWorld({ extraDests: o.extraDests, require: o.require, files: o.files });
  let text = readFileSync(w.config, "utf8");
  if (o.root) text = text.replace(/^node = .*$/m, (l) => `${l}\nmax_evidence_age = ${JSON.stringify(o.root)}`);
  // these tests are about what a receipt may not do: rolling re-verification off, so an unchanged
  // object is accepted on its receipt instead of being read again
  text = text.replace(/^\[destinations\.([^\]]+)\]\n/gm, (h) => `${h}reverify_budget = "0"\n`);
  for (const [d, age] of Object.entries(o.dests ?? {})) {
    const head = `[destinations.${d}]\n`;
    if (!text.includes(head)) throw new Error(`no ${head}`);
    text = text.replace(head, `${head}max_evidence_age = ${JSON.stringify(age)}\n`);
  }
  writeFileSync(w.config, text);
  return w;
}

export function sql<T = any>(w: World, q: string, ...params: any[]): T[] {
  const db = new Database(w.db, { safeIntegers: true });
  try {
    return db.query(q).all(...params) as T[];
  } finally {
    db.close();
  }
}

export function exec(w: World, q: string, ...params: any[]): void {
  const db = new Database(w.db, { safeIntegers: true });
  try {
    db.query(q).run(...params);
  } finally {
    db.close();
  }
}

/**
 * Make every verification `by` older: evidence verified_at, per-object content checks, and the fs
 * destinations' read-back receipts in hoard's local state (so a push that trusts a receipt carries
 * the old time too).
 */
export function ageEvidence(w: World, by: bigint, dests: string[] = ["nas"]): void {
  exec(w, "UPDATE evidence SET verified_at = verified_at - ? WHERE verified_at IS NOT NULL", by);
  exec(w, "UPDATE dest_objects SET checked_at = checked_at - ? WHERE checked_at IS NOT NULL", by);
  for (const d of dests) {
    const dir = join(dirname(w.db), "destinations", d, "receipts");
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      const f = join(dir, name);
      const lines = readFileSync(f, "utf8").split("\n").filter(Boolean).map((l) => {
        const r = JSON.parse(l);
        if (r.checked_at !== undefined) r.checked_at = String(BigInt(r.checked_at) - by);
        return JSON.stringify(r);
      });
      writeFileSync(f, lines.join("\n") + "\n");
    }
  }
}

export const comp = (w: World, dest = "nas") =>
  sql<{ verified_at: bigint | null; origin_run: bigint; confirmed_run: bigint | null }>(w, "SELECT verified_at, origin_run, confirmed_run FROM evidence WHERE destination = ?", dest)[0];

export const expireEvents = (w: World) => sql<{ volume: string; destination: string; origin_node: string; verified_at: bigint | null; epoch: bigint; note: string; new_run: bigint }>(w, "SELECT * FROM evidence_history WHERE kind = 'expire' ORDER BY id");

export function ok(r: { code: number; stderr: string; stdout: string }, code = 0): void {
  if (r.code !== code) throw new Error(`expected exit ${code}, got ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}
