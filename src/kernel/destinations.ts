// Destination identity pinning: `dest init` pins what the destination shows (marker id or
// repository id) with an epoch; every run compares, records identity changes, and reset re-pins.

import type { Db } from "./db.ts";
import type { DestinationHandler, Identity } from "./plugin.ts";
import { failure, HoardError, refused } from "./errors.ts";
import { nowNs } from "./runtime.ts";

export interface DestinationRow {
  name: string;
  type: string;
  identity: string;
  epoch: bigint;
  initialized_at: bigint;
  updated_at: bigint;
}

export function pinned(db: Db, name: string): DestinationRow | undefined {
  return db.get<DestinationRow>("SELECT * FROM destinations WHERE name = ?", name);
}
export function listPinned(db: Db): DestinationRow[] {
  return db.all<DestinationRow>("SELECT * FROM destinations ORDER BY name");
}

/**
 * Two destinations never pin one identity: they would be one physical place counted as two
 * copies. Refused (exit 3) naming the other destination.
 */
export function assertDistinctIdentity(db: Db, name: string, id: string): void {
  const other = db.get<{ name: string }>("SELECT name FROM destinations WHERE identity = ? AND name <> ?", id, name);
  if (other)
    throw refused("dest_same_identity", `refused: destination ${name} shows identity ${id}, which destination ${other.name} already pins: they are the same physical place, and one place is never two copies`, `point destinations.${name} at a different place, then run \`hoard dest init ${name}\` (or \`hoard dest reset ${name} --yes\`) there`, { destination: name, other: other.name });
}

export function pin(db: Db, name: string, type: string, id: Identity, run: bigint | null, note?: string): DestinationRow {
  assertDistinctIdentity(db, name, id.id);
  const now = nowNs();
  db.run("INSERT INTO destinations(name, type, identity, epoch, initialized_at, updated_at) VALUES (?,?,?,1,?,?)", name, type, id.id, now, now);
  db.run("INSERT INTO destination_events(destination, kind, old_identity, new_identity, epoch, run, at, note) VALUES (?, 'init', NULL, ?, 1, ?, ?, ?)", name, id.id, run, now, note ?? null);
  return pinned(db, name)!;
}

export function repin(db: Db, name: string, id: Identity, run: bigint): DestinationRow {
  const cur = pinned(db, name)!;
  assertDistinctIdentity(db, name, id.id);
  const epoch = cur.epoch + 1n;
  const now = nowNs();
  db.run("UPDATE destinations SET identity = ?, epoch = ?, updated_at = ? WHERE name = ?", id.id, epoch, now, name);
  db.run("INSERT INTO destination_events(destination, kind, old_identity, new_identity, epoch, run, at, note) VALUES (?, 'reset', ?, ?, ?, ?, ?, 'dest reset')", name, cur.identity, id.id, epoch, run, now);
  return pinned(db, name)!;
}

export function recordIdentityChange(db: Db, name: string, oldId: string, newId: string | null, note: string): void {
  const cur = pinned(db, name);
  db.run("INSERT INTO destination_events(destination, kind, old_identity, new_identity, epoch, run, at, note) VALUES (?, 'identity_change', ?, ?, ?, NULL, ?, ?)", name, oldId, newId, cur?.epoch ?? 0n, nowNs(), note);
}

/**
 * Compare what the destination shows now with the pinned identity. Uninitialised or changed →
 * refusal (exit 3); an unreachable destination → failure naming the cause. Returns the pinned row.
 */
export async function checkDestinationIdentity(db: Db, name: string, handler: DestinationHandler): Promise<DestinationRow> {
  const row = pinned(db, name);
  if (!row) throw refused("dest_not_initialised", `refused: destination ${name} is not initialised`, `run \`hoard dest init ${name}\``, { destination: name });
  let now: Identity | "uninitialised";
  try {
    now = await handler.identify();
  } catch (e) {
    if (e instanceof HoardError) throw new HoardError(e.kind === "refused" ? "refused" : "failure", e.code, `destination ${name}: cannot read its identity: ${e.message}`, { hint: e.hint ?? "check that the destination is reachable" });
    throw failure("dest_unreachable", `destination ${name}: cannot read its identity: ${(e as Error)?.message ?? e}`, "check that the destination is reachable and mounted");
  }
  if (now === "uninitialised" || now.id !== row.identity) {
    const shown = now === "uninitialised" ? null : now.id;
    recordIdentityChange(db, name, row.identity, shown, shown === null ? "identity marker absent (wiped or replaced?)" : "identity differs from the pinned one");
    throw refused(
      "dest_identity_changed",
      `refused: destination ${name} no longer shows its pinned identity ${row.identity} (it shows ${shown ?? "nothing"}): it was wiped, replaced or re-created, so its evidence cannot be trusted`,
      `if this is expected, run \`hoard dest reset ${name} --yes\` (starts a new epoch; files must be pushed and verified again before offload)`,
      { destination: name, pinned: row.identity, shown },
    );
  }
  return row;
}
