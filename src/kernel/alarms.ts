// Alarms: an offloaded file that a destination no longer holds intact may be the only copy lost.
// Raised by sync/verify, shown by status, cleared when a later run verifies the file again, or
// acknowledged by the user (a file lost for good): kept with who/when/why, never deleted.

import type { Db } from "./db.ts";
import type { LiveFile } from "./files.ts";
import { nowNs } from "./runtime.ts";

export interface AlarmRow {
  id: bigint;
  volume: string;
  destination: string;
  path: string;
  blake3: string;
  reason: string;
  run: bigint;
  raised_at: bigint;
  cleared_run: bigint | null;
  cleared_at: bigint | null;
  acked_run: bigint | null;
  acked_at: bigint | null;
  acked_by: string | null;
  acked_note: string | null;
}

export type AlarmState = "open" | "acknowledged" | "cleared";

/** Cleared (verified there again) wins over acknowledged; open is neither. */
export const alarmState = (a: Pick<AlarmRow, "cleared_at" | "acked_at">): AlarmState => (a.cleared_at !== null ? "cleared" : a.acked_at !== null ? "acknowledged" : "open");

/**
 * Raise an alarm unless one for this file's content at this destination stands already. An
 * acknowledged one stands too: a lost file the user gave up is not raised again by every run.
 */
export function raiseAlarm(db: Db, a: { volume: string; destination: string; path: string; blake3: string; reason: string; run: bigint }): void {
  const open = db.get("SELECT id FROM alarms WHERE volume = ? AND destination = ? AND path = ? AND blake3 = ? AND cleared_at IS NULL", a.volume, a.destination, a.path, a.blake3);
  if (open) return;
  db.run("INSERT INTO alarms(volume, destination, path, blake3, reason, run, raised_at) VALUES (?,?,?,?,?,?,?)", a.volume, a.destination, a.path, a.blake3, a.reason, a.run, nowNs());
}

export function clearAlarm(db: Db, volume: string, destination: string, path: string, run: bigint): void {
  db.run("UPDATE alarms SET cleared_run = ?, cleared_at = ? WHERE volume = ? AND destination = ? AND path = ? AND cleared_at IS NULL", run, nowNs(), volume, destination, path);
}

/** The paths with an alarm not cleared at one destination (acknowledged ones too: a verification clears them). */
export function openAlarmPaths(db: Db, volume: string, destination: string): Set<string> {
  return new Set(db.all<{ path: string }>("SELECT path FROM alarms WHERE volume = ? AND destination = ? AND cleared_at IS NULL", volume, destination).map((r) => r.path));
}

/** Alarms that count (status, `status --check`): neither cleared nor acknowledged. */
export function openAlarms(db: Db, volume?: string): AlarmRow[] {
  return volume
    ? db.all<AlarmRow>("SELECT * FROM alarms WHERE cleared_at IS NULL AND acked_at IS NULL AND volume = ? ORDER BY id", volume)
    : db.all<AlarmRow>("SELECT * FROM alarms WHERE cleared_at IS NULL AND acked_at IS NULL ORDER BY id");
}

/** Open alarms only, or (all) every alarm ever raised; optionally of one volume. */
export function listAlarms(db: Db, o: { volume?: string; all?: boolean } = {}): AlarmRow[] {
  if (!o.all) return openAlarms(db, o.volume);
  return o.volume ? db.all<AlarmRow>("SELECT * FROM alarms WHERE volume = ? ORDER BY id", o.volume) : db.all<AlarmRow>("SELECT * FROM alarms ORDER BY id");
}

export function getAlarm(db: Db, id: bigint): AlarmRow | undefined {
  return db.get<AlarmRow>("SELECT * FROM alarms WHERE id = ?", id);
}

/** Open alarms about one file's content, at every destination. */
export function fileAlarms(db: Db, volume: string, path: string, blake3: string): AlarmRow[] {
  return db.all<AlarmRow>("SELECT * FROM alarms WHERE volume = ? AND path = ? AND blake3 = ? AND cleared_at IS NULL AND acked_at IS NULL ORDER BY id", volume, path, blake3);
}

/** Destinations other than `except` whose latest check of this object, in their current epoch, held. */
export function otherHolders(db: Db, volume: string, path: string, contentId: bigint, except: string): string[] {
  return db
    .all<{ destination: string }>(
      `SELECT o.destination FROM dest_objects o JOIN destinations d ON d.name = o.destination AND d.epoch = o.epoch
       WHERE o.volume = ? AND o.path = ? AND o.content_id = ? AND o.ok = 1 AND o.destination <> ? ORDER BY o.destination`,
      volume, path, contentId, except,
    )
    .map((r) => r.destination);
}

export type AckDecision =
  | { kind: "refuse"; code: "alarm_already_acked" | "alarm_cleared" | "alarm_not_lost"; holders?: string[] }
  /** ack these alarms; lost: the offloaded row goes `missing` (the file is given up, its row kept). */
  | { kind: "ack"; ids: bigint[]; lost: boolean };

/**
 * Pure: what acknowledging alarm `a` does. An acknowledged or cleared alarm is refused. While the
 * file is still an offloaded row of that content, it is lost for good only if no other destination
 * holds it (`holders`: their latest check held; then restoring from one is the way out, refused
 * here); every open alarm of that file (`same`) is acknowledged with it, and the row goes missing.
 * A row no longer offloaded with that content (restored, changed) keeps its status: only `a` is acked.
 */
export function decideAck(a: AlarmRow, file: Pick<LiveFile, "status" | "blake3"> | undefined, holders: string[], same: AlarmRow[]): AckDecision {
  const st = alarmState(a);
  if (st === "acknowledged") return { kind: "refuse", code: "alarm_already_acked" };
  if (st === "cleared") return { kind: "refuse", code: "alarm_cleared" };
  const offloaded = file !== undefined && file.status === "offloaded" && file.blake3 === a.blake3;
  if (!offloaded) return { kind: "ack", ids: [a.id], lost: false };
  if (holders.length) return { kind: "refuse", code: "alarm_not_lost", holders };
  const ids = [...new Set([a.id, ...same.filter((s) => alarmState(s) === "open").map((s) => s.id)])].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  return { kind: "ack", ids, lost: true };
}

/**
 * Record the acknowledgement on each alarm (only open ones change; returns how many did), and say
 * on the acknowledging run what it acknowledged (`hoard runs` shows it).
 */
export function ackAlarms(db: Db, ids: readonly bigint[], ack: { run: bigint; by: string; note: string; runNote: string }): number {
  const at = nowNs();
  let n = 0;
  for (const id of ids) n += db.run("UPDATE alarms SET acked_run = ?, acked_at = ?, acked_by = ?, acked_note = ? WHERE id = ? AND acked_at IS NULL AND cleared_at IS NULL", ack.run, at, ack.by, ack.note, id).changes;
  db.run("UPDATE runs SET note = ? WHERE id = ? AND status = 'running'", ack.runNote, ack.run);
  return n;
}
