// Live presence of kopia objects' data: `snapshot verify --file-id …` (blob presence, no reads) in
// batches, narrowed down when a batch fails, so each object's verdict comes from a run that included it.

import { errorText, type Kopia } from "./exec.ts";
import { verifyErrors } from "./listing.ts";

/** ok: a verify run that included the object exited 0. named: kopia's own error names the object. */
export type Presence = { ok: true; at: bigint } | { ok: false; error: string; named: boolean };

/** Object ids per `snapshot verify` call (argv stays far below the system's limit). */
export const VERIFY_IDS = 500;

export interface PresenceEnv {
  signal: AbortSignal;
  now(): bigint;
  /** Called before each kopia run with the number of objects settled so far. */
  progress?(settled: number): void;
}

/** The batch's ids that an error line names as a whole word (an id is never matched inside another). */
function namedIn(lines: string[], ids: Set<string>): Map<string, string> {
  const named = new Map<string, string>();
  for (const l of lines) for (const w of l.match(/[A-Za-z0-9]+/g) ?? []) if (ids.has(w) && !named.has(w)) named.set(w, l);
  return named;
}

/**
 * One verdict per distinct id (none when aborted). A failed batch is verified again without the
 * objects kopia named as broken; when kopia names none of them but did walk objects, the batch is
 * halved, down to single objects; when it failed before looking at any object (no "error
 * processing" line: the repository could not be opened or listed), every object of the batch fails.
 */
export async function verifyPresence(k: Kopia, ids: string[], env: PresenceEnv): Promise<Map<string, Presence>> {
  const out = new Map<string, Presence>();
  const run = async (batch: string[]): Promise<void> => {
    if (batch.length === 0 || env.signal.aborted) return;
    env.progress?.(out.size);
    const at = env.now();
    const r = await k.run(["snapshot", "verify", ...k.common(), ...batch.flatMap((id) => ["--file-id", id])], { signal: env.signal });
    if (env.signal.aborted) return;
    if (r.code === 0) {
      for (const id of batch) out.set(id, { ok: true, at });
      return;
    }
    const errs = verifyErrors(r.stderr);
    const text = errs.length ? errs.slice(-3).join("; ") : errorText(r);
    const named = namedIn(errs, new Set(batch));
    for (const [id, line] of named) out.set(id, { ok: false, error: line, named: true });
    if (named.size > 0) return run(batch.filter((id) => !named.has(id)));
    if (batch.length === 1 || !errs.some((l) => l.includes("error processing "))) {
      for (const id of batch) out.set(id, { ok: false, error: text, named: false });
      return;
    }
    const mid = Math.ceil(batch.length / 2);
    await run(batch.slice(0, mid));
    await run(batch.slice(mid));
  };
  const uniq = [...new Set(ids)];
  for (let i = 0; i < uniq.length && !env.signal.aborted; i += VERIFY_IDS) await run(uniq.slice(i, i + VERIFY_IDS));
  return out;
}
