// Alarms: an offloaded file that a destination no longer holds intact may be the only copy lost.
// Raised by sync/verify, shown by status, cleared only when a later run verifies the file again.

import type { Db } from "./db.ts";
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
}

export function raiseAlarm(db: Db, a: { volume: string; destination: string; path: string; blake3: string; reason: string; run: bigint }): void {
  const open = db.get("SELECT id FROM alarms WHERE volume = ? AND destination = ? AND path = ? AND blake3 = ? AND cleared_at IS NULL", a.volume, a.destination, a.path, a.blake3);
  if (open) return;
  db.run("INSERT INTO alarms(volume, destination, path, blake3, reason, run, raised_at) VALUES (?,?,?,?,?,?,?)", a.volume, a.destination, a.path, a.blake3, a.reason, a.run, nowNs());
}

export function clearAlarm(db: Db, volume: string, destination: string, path: string, run: bigint): void {
  db.run("UPDATE alarms SET cleared_run = ?, cleared_at = ? WHERE volume = ? AND destination = ? AND path = ? AND cleared_at IS NULL", run, nowNs(), volume, destination, path);
}

export function openAlarms(db: Db, volume?: string): AlarmRow[] {
  return volume
    ? db.all<AlarmRow>("SELECT * FROM alarms WHERE cleared_at IS NULL AND volume = ? ORDER BY id", volume)
    : db.all<AlarmRow>("SELECT * FROM alarms WHERE cleared_at IS NULL ORDER BY id");
}
