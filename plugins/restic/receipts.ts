// Local state per (destination, volume) in hoard's state dir, never in the repository: receipts (a
// path's snapshot node, size+mtime, whose bytes were read back into a BLAKE3 under one receipt scope)
// and hints (the snapshot that last held each checked content, tried first by fetch and verify).

import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { PluginUtil } from "hoard/plugin";

export interface Receipt {
  b3: string;
  size: number;
  /** restic's mtime string of the node that was read back. */
  mtime: string;
  /** When its bytes were read back (ns). */
  at: bigint;
}

export interface State {
  /** The repository id these records are about: another repository's are ignored. */
  repository: string;
  /** The receiptScope the receipts were made under ("" = none usable). */
  scope: string;
  receipts: Map<string, Receipt>;
  /** Path → (BLAKE3, snapshot id) where that content was last checked: only an ordering hint. */
  hints: Map<string, { b3: string; snap: string }>;
}

const fileOf = (stateDir: string, volume: string) => join(stateDir, `restic-${encodeURIComponent(volume)}.json`);

/** The state of a volume; receipts made under another scope (or none) are dropped here. */
export function loadState(stateDir: string, volume: string, repository: string, scope: unknown): State {
  const sc = typeof scope === "string" ? scope : "";
  const st: State = { repository, scope: sc, receipts: new Map(), hints: new Map() };
  let c: any;
  try {
    c = JSON.parse(readFileSync(fileOf(stateDir, volume), "utf8"));
  } catch {
    return st;
  }
  if (c?.version !== 1 || c.repository !== repository) return st;
  for (const [p, h] of Object.entries<any>(c.hints ?? {})) if (typeof h?.b3 === "string" && typeof h.snap === "string") st.hints.set(p, { b3: h.b3, snap: h.snap });
  if (sc !== "" && c.scope === sc)
    for (const [p, r] of Object.entries<any>(c.receipts ?? {}))
      if (typeof r?.b3 === "string" && typeof r.size === "number" && typeof r.mtime === "string" && typeof r.at === "string" && /^\d+$/.test(r.at))
        st.receipts.set(p, { b3: r.b3, size: r.size, mtime: r.mtime, at: BigInt(r.at) });
  return st;
}

/** Write the state atomically (api.util.writeFileAtomic: temp, fsync, rename, directory fsync). */
export async function saveState(write: PluginUtil["writeFileAtomic"], stateDir: string, volume: string, st: State): Promise<void> {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const receipts: Record<string, unknown> = {};
  if (st.scope !== "") for (const [k, r] of st.receipts) receipts[k] = { b3: r.b3, size: r.size, mtime: r.mtime, at: String(r.at) };
  const hints: Record<string, unknown> = {};
  for (const [k, h] of st.hints) hints[k] = h;
  await write(fileOf(stateDir, volume), JSON.stringify({ version: 1, repository: st.repository, scope: st.scope, receipts, hints }), { mode: 0o600 });
}
