// Reading stored bytes back out of a restic snapshot into BLAKE3: one file by `restic dump SNAP PATH`,
// several at once by `restic dump SNAP DIR` (a tar stream parsed as it arrives; one process, one key derivation).

import type { HandlerContext } from "hoard/plugin";
import { errorText, type Restic } from "./exec.ts";
import { TarReader } from "./tar.ts";

export type ReadResult = { ok: true; b3: string; at: bigint } | { ok: false; error: string };

/** The deepest directory holding every path (relative, "/"-separated); "" is the root. */
export function commonDir(rels: string[]): string {
  let parts: string[] | undefined;
  for (const r of rels) {
    const d = r.split("/").slice(0, -1);
    if (!parts) parts = d;
    else {
      let i = 0;
      while (i < parts.length && i < d.length && parts[i] === d[i]) i++;
      parts = parts.slice(0, i);
    }
  }
  return (parts ?? []).join("/");
}

const abs = (root: string, rel: string) => (rel === "" ? root : `${root.replace(/\/+$/, "")}/${rel}`);

/** BLAKE3 of each relative path's bytes as restic gives them back from snapshot `snap` now. */
export async function readBack(r: Restic, snap: string, root: string, rels: string[], ctx: HandlerContext): Promise<Map<string, ReadResult>> {
  const out = new Map<string, ReadResult>();
  if (rels.length === 0) return out;
  if (rels.length === 1) {
    const h = ctx.blake3Stream();
    const res = await r.run(["dump", snap, abs(root, rels[0]!)], { signal: ctx.signal, onData: (c) => h.update(c) });
    if (ctx.signal.aborted) return out;
    out.set(rels[0]!, res.code === 0 ? { ok: true, b3: h.digestHex(), at: ctx.now() } : { ok: false, error: `restic dump failed: ${errorText(res)}` });
    return out;
  }
  const wanted = new Set(rels);
  const dir = commonDir(rels);
  const rootPrefix = `${root.replace(/\/+$/, "")}/`.slice(1); // tar names are absolute paths without the leading "/"
  const hashers = new Map<string, ReturnType<HandlerContext["blake3Stream"]>>();
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  let parseError: string | undefined;
  const tar = new TarReader({
    file(name) {
      if (!name.startsWith(rootPrefix)) return undefined;
      const rel = name.slice(rootPrefix.length);
      if (!wanted.has(rel) || out.has(rel)) return undefined;
      const h = ctx.blake3Stream();
      hashers.set(rel, h);
      return (c) => h.update(c);
    },
    end(name) {
      const rel = name.slice(rootPrefix.length);
      const h = hashers.get(rel);
      if (h) out.set(rel, { ok: true, b3: h.digestHex(), at: ctx.now() });
      hashers.delete(rel);
    },
  });
  let res;
  try {
    res = await r.run(["dump", "--archive", "tar", snap, abs(root, dir)], {
      signal: stop.signal,
      onData: (c) => {
        if (parseError !== undefined) return;
        try {
          tar.push(c);
        } catch (e: any) {
          parseError = String(e?.message ?? e);
          stop.abort();
        }
      },
    });
  } finally {
    ctx.signal.removeEventListener("abort", onAbort);
  }
  if (ctx.signal.aborted) {
    // a file whose member ended before the abort was read completely: its result stands
    return out;
  }
  const why = parseError ?? (res.code !== 0 ? `restic dump failed: ${errorText(res)}` : !tar.done ? "restic dump ended before the end of the archive" : undefined);
  // complete members stand even when a later one failed: their bytes were all hashed
  for (const rel of rels) if (!out.has(rel)) out.set(rel, { ok: false, error: why ?? "restic dump did not give it back" });
  return out;
}
