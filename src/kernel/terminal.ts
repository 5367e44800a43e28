// First-write-wins terminal records, shared by every runs-like table (runs, hook_runs):
// UPDATE … WHERE id=? AND status='running'; a second finish is AlreadyFinished and changes nothing.

import type { Db } from "./db.ts";
import { AlreadyFinished, failure } from "./errors.ts";
import { nowNs, type SqlValue } from "./runtime.ts";

export const TERMINAL: Record<"runs" | "hook_runs", readonly string[]> = {
  runs: ["success", "partial", "failed", "refused", "aborted"],
  hook_runs: ["success", "failed", "timeout", "skipped", "aborted"],
};
export type RunsLikeTable = keyof typeof TERMINAL;

const COLUMN = /^[a-z_]+$/;

/** Move a running row to a terminal status, once. Extra columns are written in the same UPDATE. */
export function finishRow(db: Db, table: RunsLikeTable, id: bigint, status: string, fields: Record<string, SqlValue> = {}): void {
  if (!TERMINAL[table].includes(status)) throw failure("bad_terminal_status", `${status} is not a terminal status of ${table}`);
  const cols = Object.keys(fields);
  for (const c of cols) if (!COLUMN.test(c)) throw failure("bad_column", `bad column name ${c}`);
  const sets = ["status = ?", "finished_at = ?", ...cols.map((c) => `${c} = ?`)].join(", ");
  const r = db.run(`UPDATE ${table} SET ${sets} WHERE id = ? AND status = 'running'`, status, nowNs(), ...cols.map((c) => fields[c]!), id);
  if (r.changes === 1) return;
  const cur = db.get<{ status: string }>(`SELECT status FROM ${table} WHERE id = ?`, id);
  if (!cur) throw failure("no_such_row", `${table} ${id} does not exist`);
  throw new AlreadyFinished(table, id, cur.status);
}
