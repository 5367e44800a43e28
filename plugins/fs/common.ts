// What every part of the fs destination shares: its file names (marker, temps, history), the one read
// buffer, and an entry's failure (EntryError) with the way a manifest path maps to directory components.

import { constants, fsync } from "node:fs";
import type { FileOutcome, PluginApi } from "hoard/plugin";
import { AnchorError, splitRel } from "../../src/kernel/anchored.ts";

export const DEST_MARKER = ".hoard-destination";
/** Prefix of a temp file (a push's, a catalog's, the marker's), beside its target; a leftover is `${TEMP_PREFIX}<uuid>` exactly. */
export const TEMP_PREFIX = ".hoard-tmp-";
export const TEMP_RE = /^\.hoard-tmp-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Where a replaced object is kept, below the volume's directory at the destination. */
export const HISTORY = [".hoard", "history"];
export const CHUNK = 1 << 20;
/** Give the event loop a turn (other workers' fsyncs, signals) after this many bytes copied or hashed. */
export const YIELD_EVERY = 64 << 20;
export const RD = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);
/** Codes of a link(2) the file system does not support (a rename is used instead). */
export const NO_HARD_LINKS = new Set(["EPERM", "EOPNOTSUPP", "ENOTSUP", "ENOSYS", "EMLINK"]);

export const errText = (e: any): string => (e instanceof AnchorError ? e.message : typeof e?.code === "string" ? e.code : (e?.message ?? String(e)));
/** Seconds (a float, as futimes takes them) of a nanosecond time; exact to the microsecond. */
export const nsToSeconds = (ns: bigint): number => Number(ns / 1000n) / 1e6;
export const yieldTurn = (): Promise<void> => new Promise((r) => setImmediate(r));
export const fsyncAsync = (fd: number): Promise<void> => new Promise((res, rej) => fsync(fd, (e) => (e ? rej(e) : res())));

/** One reused buffer: every read/write between two awaits is synchronous, so workers never share it mid-use. */
let shared: Buffer | undefined;
export const buffer = (): Buffer => (shared ??= Buffer.allocUnsafe(CHUNK));

/** A failure of one entry, with the reason given to the user. */
export class EntryError extends Error {
  constructor(
    message: string,
    readonly missing = false,
  ) {
    super(message);
  }
}

/** The parent components and name of a manifest path (below `under`: the volume's directory at the destination). */
export function place(rel: string, under?: string): { parents: string[]; name: string } {
  let s: { parents: string[]; name: string };
  try {
    s = splitRel(rel);
    if (under !== undefined) splitRel(under); // a volume name is one component
  } catch {
    throw new EntryError(`unsafe manifest path ${JSON.stringify(under === undefined ? rel : `${under}/${rel}`)}`);
  }
  return under === undefined ? s : { parents: [under, ...s.parents], name: s.name };
}

/** An AnchorError met on the way to an entry, as that entry's failure. */
export function refusal(e: unknown, at: string): EntryError {
  if (!(e instanceof AnchorError)) return new EntryError(`${errText(e)} at ${at}`);
  if (e.kind === "missing") return new EntryError(`missing at ${at}`, true);
  if (e.kind === "symlink") return new EntryError(`refused at ${at}: ${e.message}`);
  if (e.kind === "not_dir") return new EntryError(`refused at ${at}: ${e.message}`);
  return new EntryError(`cannot reach it at ${at}: ${e.message}`);
}

/** What the parts of one opened fs destination share: the plugin API and the destination's name. */
export interface FsDest {
  api: PluginApi;
  name: string;
}

/** The outcome of an entry that failed with `err` (an EntryError says why in the user's words). */
export function failedOutcome(path: string, err: unknown): FileOutcome {
  return err instanceof EntryError ? { path, ok: false, reason: err.message, ...(err.missing ? { missing: true } : {}) } : { path, ok: false, reason: errText(err) };
}
