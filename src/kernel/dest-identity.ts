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

export function repin(db: Db, name: string, id: Identity, run: bigint, note = "dest reset"): DestinationRow {
  const cur = pinned(db, name)!;
  assertDistinctIdentity(db, name, id.id);
  const epoch = cur.epoch + 1n;
  const now = nowNs();
  db.run("UPDATE destinations SET identity = ?, epoch = ?, updated_at = ? WHERE name = ?", id.id, epoch, now, name);
  db.run("INSERT INTO destination_events(destination, kind, old_identity, new_identity, epoch, run, at, note) VALUES (?, 'reset', ?, ?, ?, ?, ?, ?)", name, cur.identity, id.id, epoch, run, now, note);
  return pinned(db, name)!;
}

/**
 * Whether an identify() error says the destination's root itself is absent (a directory removed, a
 * disk not mounted), as opposed to unreadable: hoard never treats that as wiped on its own.
 */
export function rootIsMissing(e: unknown): boolean {
  if (!(e instanceof HoardError)) return false;
  return e.code === "dest_missing" || (/\b(does not exist|is not there)\b/.test(e.message) && /is it mounted\?/.test(e.message));
}

/** The next step for a pinned destination whose root is missing: mount it, or (really gone) recreate it and reset. */
export function missingRootHint(name: string, hint: string | undefined): string {
  const base = hint ?? "mount it or make it reachable";
  return /dest reset/.test(base) ? base : `${base}; if it is mounted and was wiped (its directory removed), create that directory again, then run \`hoard dest reset ${name} --yes\``;
}

/** The step for a destination this database never pinned, from what it shows (undefined: could not read it). */
export function unpinnedHint(name: string, shows: Identity | "uninitialised" | undefined): string {
  if (shows !== undefined && shows !== "uninitialised")
    return `it shows identity ${shows.id}, which this database never pinned: if it is yours (a lost or older database, another machine), run \`hoard dest adopt ${name}\` (the same as \`hoard dest init ${name} --adopt\`)`;
  return `run \`hoard dest init ${name}\``;
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
  if (!row) {
    let shows: Identity | "uninitialised" | undefined;
    try {
      shows = await handler.identify();
    } catch {
      shows = undefined; // unreadable: `dest init` says why
    }
    throw refused("dest_not_initialised", `refused: destination ${name} is not initialised in this database`, unpinnedHint(name, shows), { destination: name });
  }
  let now: Identity | "uninitialised";
  try {
    now = await handler.identify();
  } catch (e) {
    if (e instanceof HoardError) {
      const hint = rootIsMissing(e) ? missingRootHint(name, e.hint) : (e.hint ?? "check that the destination is reachable");
      throw new HoardError(e.kind === "refused" ? "refused" : "failure", e.code, `destination ${name}: cannot read its identity: ${e.message}`, { hint });
    }
    throw failure("dest_unreachable", `destination ${name}: cannot read its identity: ${(e as Error)?.message ?? e}`, "check that the destination is reachable and mounted");
  }
  if (now === "uninitialised") {
    recordIdentityChange(db, name, row.identity, null, "identity marker absent (wiped or replaced?)");
    throw refused(
      "dest_identity_changed",
      `refused: destination ${name} is reachable but its identity marker is gone (pinned ${row.identity}): it looks wiped or emptied (or another disk is mounted there), so its evidence cannot be trusted`,
      `if it was wiped, run \`hoard dest reset ${name} --yes\` (a new identity and epoch; files are pushed and verified again before any offload); if the wrong disk is mounted, mount the right one`,
      { destination: name, pinned: row.identity, shown: null },
    );
  }
  if (now.id !== row.identity) {
    recordIdentityChange(db, name, row.identity, now.id, "identity differs from the pinned one");
    throw refused(
      "dest_identity_changed",
      `refused: destination ${name} no longer shows its pinned identity ${row.identity} (it shows ${now.id}): it was replaced or re-created, so its evidence cannot be trusted`,
      `if this is expected, run \`hoard dest reset ${name} --yes\` (starts a new epoch; files must be pushed and verified again before offload)`,
      { destination: name, pinned: row.identity, shown: now.id },
    );
  }
  return row;
}
