// Parsing what kopia prints: snapshot manifests (`snapshot create/list --json`), Go timestamps, the
// `ls -l -r` long listing (path, size, mtime to the second, object id) and `snapshot verify` errors.

export interface Snapshot {
  id: string;
  rootObj: string;
  sourcePath: string;
  sourceHost: string;
  sourceUser: string;
  startNs: bigint;
  incomplete: boolean;
  /** Fatal errors while snapshotting (a partial snapshot when > 0). */
  numFailed: number;
  numIgnored: number;
  /** Entries kopia could not read (relative paths; kopia keeps only the first few). */
  errors: { path: string; error: string }[];
  pins: string[];
  /** The snapshot's tags as kopia stores them (`--tags k:v` becomes "tag:k" → "v"). */
  tags: Record<string, string>;
  /** The root entry's type ("d" directory, "f" file: a single-file source) and name. */
  rootType: string;
  rootName: string;
}

/** RFC 3339 with optional fraction, as Go's time.Time marshals it → ns since the epoch. */
export function parseGoTime(s: string): bigint | null {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) return null;
  const ms = Date.parse(m[1]! + m[3]!);
  if (Number.isNaN(ms)) return null;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? "").padEnd(9, "0"));
}

/** One snapshot manifest object from kopia's JSON, or undefined when it is not one. */
export function toSnapshot(x: any): Snapshot | undefined {
  if (!x || typeof x !== "object" || typeof x.id !== "string" || typeof x.rootEntry?.obj !== "string") return undefined;
  const summ = x.rootEntry.summ ?? {};
  return {
    id: x.id,
    rootObj: x.rootEntry.obj,
    sourcePath: typeof x.source?.path === "string" ? x.source.path : "",
    sourceHost: typeof x.source?.host === "string" ? x.source.host : "",
    sourceUser: typeof x.source?.userName === "string" ? x.source.userName : "",
    startNs: (typeof x.startTime === "string" && parseGoTime(x.startTime)) || 0n,
    incomplete: typeof x.incomplete === "string" && x.incomplete !== "",
    numFailed: Number(summ.numFailed ?? 0) || 0,
    numIgnored: Number(summ.numIgnoredErrors ?? 0) || 0,
    errors: Array.isArray(summ.errors) ? summ.errors.filter((e: any) => typeof e?.path === "string").map((e: any) => ({ path: e.path, error: String(e.error ?? "") })) : [],
    pins: Array.isArray(x.pins) ? x.pins.map(String) : [],
    tags: x.tags && typeof x.tags === "object" ? Object.fromEntries(Object.entries(x.tags).filter(([, v]) => typeof v === "string")) as Record<string, string> : {},
    rootType: typeof x.rootEntry.type === "string" ? x.rootEntry.type : "",
    rootName: typeof x.rootEntry.name === "string" ? x.rootEntry.name : "",
  };
}

/** The snapshot manifest `snapshot create --json` printed (compact JSON, possibly after other lines). */
export function parseCreateOutput(stdout: string): Snapshot | undefined {
  const text = stdout.trim();
  if (!text) return undefined;
  try {
    return toSnapshot(JSON.parse(text));
  } catch {
    for (const line of text.split("\n").reverse()) {
      if (!line.trim().startsWith("{")) continue;
      try {
        const s = toSnapshot(JSON.parse(line));
        if (s) return s;
      } catch {}
    }
    return undefined;
  }
}

/** `snapshot list --json`: newest first. Throws when the output is not a JSON array. */
export function parseSnapshotList(stdout: string): Snapshot[] {
  const arr = JSON.parse(stdout.trim() || "[]");
  if (!Array.isArray(arr)) throw new Error("snapshot list did not print a JSON array");
  const out = arr.map(toSnapshot).filter((s): s is Snapshot => !!s);
  return out.sort((a, b) => (a.startNs > b.startNs ? -1 : a.startNs < b.startNs ? 1 : 0));
}

export interface Listed {
  kind: "file" | "dir" | "other";
  size: number;
  /** Whole seconds since the epoch (kopia prints no fraction), or null when the zone is not UTC. */
  mtimeSec: bigint | null;
  obj: string;
}

const LONG = /^(\S+) +(\d+) (\d{4})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d) (\S+) (.*)$/;

/**
 * `kopia ls -l -r OBJ` → relative path → entry. Format (cli/command_ls.go):
 * "%v %12d %v %-34v %v" mode, size, "2006-01-02 15:04:05 MST", object id, path ("/" after dirs;
 * dirs with failures get " (N errors)"). Lines that do not parse are ignored (their files simply
 * are not found, so nothing is claimed for them).
 */
export function parseLongListing(text: string): Map<string, Listed> {
  const out = new Map<string, Listed>();
  for (const raw of text.split("\n")) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    const m = LONG.exec(line);
    if (!m) continue;
    const [, mode, size, y, mo, d, h, mi, s, zone, rest] = m as unknown as string[];
    const sp = rest!.indexOf(" ");
    if (sp <= 0) continue;
    const obj = rest!.slice(0, sp);
    const name = rest!.slice(Math.max(34, obj.length) + 1);
    if (!name) continue;
    const typeLetters = mode!.slice(0, Math.max(0, mode!.length - 9));
    let kind: Listed["kind"];
    let path = name;
    if (typeLetters.includes("d")) {
      kind = "dir";
      path = name.replace(/\/( \(\d+ errors\))?$/, "");
    } else if (/^[-ugt]+$/.test(typeLetters)) kind = "file";
    else kind = "other";
    const mtimeSec = zone === "UTC" ? BigInt(Date.UTC(+y!, +mo! - 1, +d!, +h!, +mi!, +s!) / 1000) : null;
    out.set(path, { kind, size: Number(size), mtimeSec, obj });
  }
  return out;
}

/** Whole seconds of a ns timestamp, rounded down like Go's formatting does. */
export function floorSec(ns: bigint): bigint {
  const q = ns / 1_000_000_000n;
  return ns < 0n && ns % 1_000_000_000n !== 0n ? q - 1n : q;
}

/** Error lines of a failed `snapshot verify` (its progress and summary lines dropped). */
export function verifyErrors(stderr: string): string[] {
  return stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !/^(Finished processing|Processed \d|Found \d+ objects|Listing blobs|Listed \d)/.test(l));
}
