// Which manifest entries a sync must content-check (pure): those with no current good check, those
// whose row changed status since, and the rolling re-verification of the oldest checks, by budget.

import type { FileOutcome, ManifestEntry } from "./plugin.ts";
import type { CheckView } from "./manifest-checks.ts";

export interface RecheckPlan {
  /** Entries due because their last check is missing, failed, of another epoch or older than their row. */
  due: number;
  /** Entries picked by rolling re-verification (oldest content check first, within the budget). */
  rolling: number;
  rollingBytes: number;
}

/**
 * Set `recheck` on the entries whose content must be compared in this run. `check(i)` is entry i's
 * per-object record; `changedRun[i]` its row's status_changed_run. Rolling re-verification takes
 * the remaining entries by oldest content check while the bytes taken are under `budget` (so one
 * object larger than the budget is still re-read in its turn).
 */
export function planRechecks(manifest: ManifestEntry[], changedRun: readonly bigint[], check: (i: number) => CheckView | undefined, epoch: bigint, budget: number): RecheckPlan {
  const plan: RecheckPlan = { due: 0, rolling: 0, rollingBytes: 0 };
  // the others, with their content-check times, for rolling re-verification (oldest first)
  const rest: number[] = [];
  const restAt: bigint[] = [];
  for (let i = 0; i < manifest.length; i++) {
    const c = check(i);
    const e = manifest[i]!;
    if (!c || c.epoch !== epoch || c.ok !== 1n || c.checked_at === null || c.checked_run === null || c.checked_run < (changedRun[i] ?? 0n)) {
      e.recheck = true;
      plan.due++;
    } else {
      e.recheck = false;
      if (budget > 0) (rest.push(i), restAt.push(c.checked_at));
    }
  }
  if (budget > 0 && rest.length) {
    const order = rest.map((_, k) => k);
    order.sort((a, b) => {
      const x = restAt[a]!;
      const y = restAt[b]!;
      return x < y ? -1 : x > y ? 1 : a - b;
    });
    for (const k of order) {
      if (plan.rollingBytes >= budget) break;
      const i = rest[k]!;
      manifest[i]!.recheck = true;
      plan.rolling++;
      plan.rollingBytes += manifest[i]!.size;
    }
  }
  return plan;
}

/**
 * The kernel's own reading of a handler's outcomes: times are capped at now (a check is never in
 * the future), and an entry settled on a receipt although its content check was due counts as
 * not verified. Only `ok: true` is a success: any other value (a plugin's `ok: "false"`) is a failure.
 */
export function sanitizeOutcomes(manifest: readonly ManifestEntry[], outcomes: (FileOutcome | undefined)[], now: bigint): void {
  for (let i = 0; i < outcomes.length; i++) {
    const o = outcomes[i];
    if (!o) continue;
    if (o.ok !== true) {
      const reason: unknown = (o as { reason?: unknown }).reason;
      if (o.ok !== false || typeof reason !== "string") outcomes[i] = { path: o.path, ok: false, reason: `not verified: the destination answered ok: ${JSON.stringify(o.ok) ?? "undefined"}${typeof reason === "string" ? ` (${reason})` : ""}` };
      continue;
    }
    // an ok check made now names the method it checked by, and when: without them it is no check at all
    // (an answer on a receipt records nothing either way)
    if (!o.unchanged && (typeof o.method !== "string" || o.method === "" || typeof o.verifiedAt !== "bigint")) {
      outcomes[i] = { path: o.path, ok: false, reason: `not verified: the destination answered ok without ${typeof o.method !== "string" || o.method === "" ? "a method" : "a check time"}` };
      continue;
    }
    if (o.unchanged && manifest[i]!.recheck) outcomes[i] = { path: o.path, ok: false, reason: "accepted on a receipt although a content check was due (not verified)" };
    else if (o.verifiedAt > now) outcomes[i] = { ...o, verifiedAt: now };
  }
}
