// Re-uploading content kopia lost: its index keeps listing content whose pack blob is gone and every
// snapshot dedupes against the index, so that content is marked deleted and then written again.

import { errorText, type Kopia } from "./exec.ts";

export interface Lost {
  content: string;
  blob: string;
}

/** Content ids per `content delete` call. */
const DELETE_IDS = 500;

/** "content C depends on missing blob B" lines of `kopia content verify` (repo/content/verify.go). */
export function parseLost(stderr: string): Lost[] {
  const out: Lost[] = [];
  const seen = new Set<string>();
  for (const raw of stderr.split("\n")) {
    const m = /(?:^|\s)content ([g-z]?[0-9a-f]+) depends on missing blob (\S+)\s*$/.exec(raw.trim());
    if (m && !seen.has(m[1]!)) {
      seen.add(m[1]!);
      out.push({ content: m[1]!, blob: m[2]! });
    }
  }
  return out;
}

/**
 * The contents (deleted ones excluded) whose pack blob is not in storage, from `kopia content
 * verify` (index against the blob listing, nothing read). A failure without such lines is an error.
 */
export async function findLost(k: Kopia, signal: AbortSignal): Promise<{ ok: true; lost: Lost[] } | { ok: false; error: string }> {
  const r = await k.run(["content", "verify", ...k.common()], { signal, maxStdout: 64 * 1024 });
  if (r.code === 0) return { ok: true, lost: [] };
  const lost = parseLost(r.stderr);
  return lost.length > 0 ? { ok: true, lost } : { ok: false, error: errorText(r) };
}

/**
 * Mark contents deleted in kopia's index (`content delete`, hidden and guarded by
 * --dangerous-commands=enabled). Blobs are not touched; kopia's next snapshot GC undeletes any
 * deleted content a snapshot still references, and WriteContent writes a deleted content anew.
 * Resolves with the failed command's error text, or undefined.
 */
export async function markDeleted(k: Kopia, ids: string[], signal: AbortSignal): Promise<string | undefined> {
  for (let i = 0; i < ids.length; i += DELETE_IDS) {
    const r = await k.run(["content", "delete", "--dangerous-commands=enabled", ...k.common(), ...ids.slice(i, i + DELETE_IDS)], { signal });
    if (r.code !== 0) return errorText(r);
  }
  return undefined;
}
