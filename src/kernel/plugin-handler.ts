// The destination handler contract of the plugin API: the content and evidence vocabulary
// (manifest entries, outcomes, methods) and what a destination type opens, with its run context.

import type { GenericSchema, InferOutput } from "valibot";

/** How a destination proved a file: a content hash compared end to end, or something weaker. */
export type Method = string; // "blake3", "sha256", "sha1", "md5", "size", "kopia-listing", …

/** One live file row of a volume, captured before any transfer. */
export interface ManifestEntry {
  path: string; // relative, "/"-separated
  size: number;
  mtimeNs: bigint;
  blake3: string;
  contentId: bigint;
  originNode: string;
  originRun: bigint;
  status: "present" | "offloaded";
  /**
   * The kernel asks for a content check of this entry in this run (rolling re-verification, a
   * failed or missing last check, or a row that changed status since its last check): a receipt
   * must not settle it. An `unchanged` outcome for such an entry counts as not verified.
   */
  recheck?: boolean;
}

/**
 * A handler's answer for one manifest entry.
 * - ok, not `unchanged`: the content was compared end to end in this run (`method`), at `verifiedAt`.
 * - ok and `unchanged`: accepted on a receipt: the object still has the size and modtime it had
 *   when its content was last checked, at `verifiedAt` (the receipt's time, never now). This is a
 *   transfer shortcut, not a verification: it never refreshes evidence or the object's check record.
 * - not ok: why; `missing: true` only when the object is absent at the destination (the kernel reports
 *   it on the sync/verify result's `failures`, so a lost object is told apart from a damaged one).
 */
export type FileOutcome =
  | { path: string; ok: true; method: Method; verifiedAt: bigint; transferred?: boolean; unchanged?: boolean }
  | { path: string; ok: false; reason: string; method?: Method; missing?: boolean };

/**
 * How hard `confirm` looks, right before an offload deletes local copies:
 * - "presence": the object exists at the destination with the indexed size (method "presence");
 * - "content": its content hash is compared end to end with the indexed content (a hash method).
 */
export type ConfirmDepth = "presence" | "content";

export interface Identity {
  id: string;
  detail?: string;
}

export interface Capabilities {
  methods: Method[];
  warnings: string[];
  /** Facts for `hoard doctor` (tool version, hash types, …). */
  facts?: Record<string, unknown>;
}

export interface Progress {
  phase: string;
  done: number;
  total?: number;
  bytes?: number;
  totalBytes?: number;
  current?: string;
}

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  debug(msg: string): void;
}

/** Everything a handler may use during a run. */
export interface HandlerContext {
  runId: bigint;
  volume: string;
  volumeRoot: string; // absolute path of the local volume
  /**
   * The destination's current epoch. `hoard dest reset` starts a new one: whatever a handler
   * cached about the destination under an earlier epoch (receipts) must not be trusted.
   */
  epoch: bigint;
  /**
   * Receipts a handler keeps (size+modtime seen at a content check) are valid only under this
   * exact scope: it changes with the database instance, the destination's pinned identity, its
   * epoch, and every evidence rewind of this volume at this destination. A handler stores the
   * scope with its receipts and discards receipts stamped with any other scope.
   */
  receiptScope: string;
  /**
   * A bandwidth limit the user gave for this run (`--bwlimit`), in rclone's syntax: a rate such as
   * "10M" or "512k" (bytes/s, KiB when no unit), "UP:DOWN" ("10M:off"), or "off". Undefined: none.
   * A handler that moves bytes through a tool taking such a limit passes it on; others ignore it.
   * Given on the contexts of push (sync) and fetch (restore).
   */
  bwlimit?: string;
  signal: AbortSignal;
  progress(p: Progress): void;
  log: Logger;
  /** A warning that is recorded on the run and shown to the user. */
  warn(msg: string): void;
  /** Secondary digests (md5/sha1/sha256) of manifest contents, computed once and cached by content. */
  digests(entries: ManifestEntry[], algo: "md5" | "sha1" | "sha256"): Promise<Map<bigint, string>>;
  /** BLAKE3 of a local file (the native backend when available). */
  blake3File(path: string): Promise<string>;
  /** An incremental BLAKE3 hasher for bytes read back from a destination. */
  blake3Stream(): { update(chunk: Uint8Array): void; digestHex(): string };
  now(): bigint;
}

/** What a destination type gets when it is opened. */
export interface OpenContext {
  name: string; // destination name from config
  /** A private directory for this destination's local state (e.g. a tool's config file). */
  stateDir: string;
  log: Logger;
  env: Record<string, string | undefined>;
}

export interface DestinationHandler {
  capabilities(): Promise<Capabilities>;
  /** Create destination identity; only ever called from `hoard dest init`. */
  init(): Promise<Identity>;
  /** Cheap identity read before every run. "uninitialised" only when provably absent; errors throw. */
  identify(): Promise<Identity | "uninitialised">;
  /**
   * Optional hint, given before the identity check of a sync of this volume: a push is likely to
   * follow. A handler may start read-only work now (e.g. listing the destination) for that push
   * to use; it must write nothing, and what it starts must not outlive the process. The push
   * still runs only after the identity check and the run gate passed.
   */
  warm?(volume: string): void;
  push(manifest: ManifestEntry[], ctx: HandlerContext): AsyncIterable<FileOutcome> | Promise<FileOutcome[]>;
  verify(manifest: ManifestEntry[], ctx: HandlerContext): AsyncIterable<FileOutcome> | Promise<FileOutcome[]>;
  /**
   * Live proof, right before an offload unlinks local copies: does the destination hold each entry
   * now? One outcome per entry. At depth "presence", ok means the object exists with the entry's
   * size (method "presence"); at "content", ok means its content hash was compared end to end with
   * the entry's (method = the hash used). Never answer from receipts or cached state: ask the
   * destination. Entries here are always `present` locally.
   */
  confirm(entries: ManifestEntry[], ctx: HandlerContext, depth: ConfirmDepth): AsyncIterable<FileOutcome> | Promise<FileOutcome[]>;
  /** Write the bytes of one file to targetPath (the kernel checks BLAKE3 afterwards). */
  fetch(entry: ManifestEntry, targetPath: string, ctx: HandlerContext): Promise<void>;
  /**
   * Optional: store one catalog of `volume` (the signed map of its verified rows, written by the
   * kernel after a sync or verify) at the destination under `name`. Atomic: a reader sees the whole
   * file or nothing under that name. Never replaces an existing name (names carry the bytes' BLAKE3,
   * so an existing one already holds these bytes). Catalogs are kept: hoard never deletes them.
   */
  putCatalog?(volume: string, name: string, bytes: Uint8Array, ctx: HandlerContext): Promise<void>;
  /** Optional: the names of the catalogs stored for `volume` (names only, any order; none: []). */
  listCatalogs?(volume: string): Promise<string[]>;
  /** Optional: the bytes of one stored catalog (the caller checks its hash and signature). */
  getCatalog?(volume: string, name: string): Promise<Uint8Array>;
}

/**
 * A destination type: `type = "NAME"` in a [destinations.X] table. The options `open` receives are
 * the output of `schema` (inferred: no annotation, no cast), so a handler cannot read a key the
 * schema does not produce.
 */
export interface DestinationType<S extends GenericSchema = GenericSchema<unknown, any>> {
  name: string;
  /** valibot schema of the plugin-specific keys of a [destinations.X] table (use v.strictObject). */
  schema: S;
  open: (options: InferOutput<S>, ctx: OpenContext) => DestinationHandler;
}
