// Proof that listed objects can be read now (not only listed): the first byte of each, read in
// batches by `rclone cat --files-from-raw - --count 1`, for remotes whose listing may be cached.
//
// A listing can lie: `rclone serve webdav` answers from its directory cache (5 minutes by default),
// so an object deleted behind the server is still listed with its size. Opening it cannot lie.
// One rclone process per batch, a few batches side by side: measured over `rclone serve webdav`
// (500 objects, a busy 2-core machine) a process per object (8 at a time) cost ~0.33 s per object,
// one cat of all 500 ~7 s (rclone opens them one after another), four cats of 125 each ~2.5-3.8 s.
// An object counts as readable only when a cat run that asked for it exited 0, logged no error and
// delivered exactly one byte per object asked (a silently skipped object cannot pass); an object an
// error names is not readable; the rest of a failed run is asked once more, in a run of its own.

import type { HandlerContext, ManifestEntry } from "../../src/kernel/plugin.ts";
import { parseLogLine } from "./log.ts";
import { standardPath } from "./names.ts";
import type { SpawnResult } from "../../src/kernel/plugin.ts";
import { checkerArgs, filesFromRaw, type Target } from "./listing.ts";

/** At most this many objects per cat run (the list goes through stdin)... */
export const READ_BATCH = 2000;
/** ...at least this many (below it another process costs more than it saves)... */
const READ_MIN = 100;
/** ...and at most this many runs at once. */
const READ_JOBS = 4;

/** What one `rclone cat --count 1` run said. */
export interface CatRun {
  code: number | null;
  /** Bytes received on stdout. */
  bytes: number;
  /** Errors naming an object (rclone standard name -> message). */
  named: Map<string, string>;
  /** Error or fatal lines naming no object. */
  general: string[];
}

/**
 * The verdict on one run over `asked` objects (all non-empty): clean (every object proven), or the
 * objects an error names (never proven) and the rest, which this run cannot speak for.
 */
export function judgeCat(run: CatRun, asked: number): { clean: true } | { clean: false; named: Map<string, string> } {
  if (run.code === 0 && run.named.size === 0 && run.general.length === 0 && run.bytes === asked) return { clean: true };
  return { clean: false, named: run.named };
}

async function catFirstBytes(t: Target, batch: ManifestEntry[], ctx: Pick<HandlerContext, "signal">): Promise<{ run: CatRun; r: SpawnResult }> {
  const run: CatRun = { code: null, bytes: 0, named: new Map(), general: [] };
  const r = await t.rc.run(["cat", "--files-from-raw", "-", "--count", "1", "--use-json-log", ...checkerArgs(t), t.volumeDir], {
    stdin: filesFromRaw(batch),
    signal: ctx.signal,
    onStdoutData: (c) => {
      run.bytes += c.byteLength;
    },
    onStderrLine: (raw) => {
      const l = parseLogLine(raw);
      if (!l || (l.level !== "error" && l.level !== "fatal")) return;
      if (l.object !== undefined) run.named.set(l.object, l.msg);
      else run.general.push(l.msg);
    },
  });
  run.code = r.code;
  return { run, r };
}

/**
 * Which of these (listed) entries cannot be proven readable now: path -> reason. Entries of size 0
 * have no byte to read and are not asked. Every entry asked and not proven has a reason.
 */
export async function unreadable(t: Target, entries: ManifestEntry[], ctx: Pick<HandlerContext, "signal">): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const ask = entries.filter((e) => e.size > 0);
  const per = Math.min(READ_BATCH, Math.max(READ_MIN, Math.ceil(ask.length / READ_JOBS)));
  const groups: ManifestEntry[][] = [];
  for (let i = 0; i < ask.length; i += per) groups.push(ask.slice(i, i + per));
  let next = 0;
  const worker = async () => {
    while (next < groups.length) await proveGroup(t, groups[next++]!, ctx, out);
  };
  await Promise.all(Array.from({ length: Math.min(READ_JOBS, groups.length) }, worker));
  return out;
}

/** One group: a cat run; objects its errors name are not readable; the rest of a failed run get one more run. */
async function proveGroup(t: Target, group: ManifestEntry[], ctx: Pick<HandlerContext, "signal">, out: Map<string, string>): Promise<void> {
  let rest = group;
  for (let attempt = 1; rest.length > 0; attempt++) {
    if (ctx.signal.aborted) {
      for (const e of rest) out.set(e.path, "aborted before it was read");
      return;
    }
    const { run, r } = await catFirstBytes(t, rest, ctx);
    if (ctx.signal.aborted) {
      for (const e of rest) out.set(e.path, "aborted before it was read");
      return;
    }
    const v = judgeCat(run, rest.length);
    if (v.clean) return;
    const next: ManifestEntry[] = [];
    for (const e of rest) {
      const err = v.named.get(standardPath(e.path));
      if (err !== undefined) out.set(e.path, `listed at ${t.dest} but cannot be read: ${t.rc.redact(err)}`);
      else next.push(e);
    }
    if (attempt >= 2 || next.length === 0) {
      const why = r.code !== 0 ? t.rc.describeFailure("cat", r) : `rclone cat delivered ${run.bytes} bytes for ${rest.length} objects (one each expected)${run.general.length ? `: ${t.rc.redact(run.general.at(-1)!)}` : ""}`;
      for (const e of next) out.set(e.path, `could not prove it readable at ${t.dest}: ${why}`);
      return;
    }
    rest = next;
  }
}
