// Types of hoard's plugin API, for third-party plugin authors. GENERATED from src/kernel/plugin.ts
// by `bun scripts/plugin-types.ts`; do not edit. Use: `import type { Plugin } from "hoard/plugin"`.
// api.v is valibot: install it as a dev dependency (`npm i -D valibot@1`) for its types; a plugin
// must not import it (or any package) at run time — everything comes through `api`.

declare module "hoard/plugin" {
    import type { GenericSchema, InferOutput } from "valibot";
    import type * as v from "valibot";

    /** How a destination proved a file: a content hash compared end to end, or something weaker. */
    export type Method = string;
    /** One live file row of a volume, captured before any transfer. */
    export interface ManifestEntry {
        path: string;
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
    export type FileOutcome = {
        path: string;
        ok: true;
        method: Method;
        verifiedAt: bigint;
        transferred?: boolean;
        unchanged?: boolean;
    } | {
        path: string;
        ok: false;
        reason: string;
        method?: Method;
        missing?: boolean;
    };
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
        volumeRoot: string;
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
        blake3Stream(): {
            update(chunk: Uint8Array): void;
            digestHex(): string;
        };
        now(): bigint;
    }
    /** What a destination type gets when it is opened. */
    export interface OpenContext {
        name: string;
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

    export interface RunInfo {
        id: bigint;
        kind: string;
        volume: string | null;
        destination: string | null;
    }
    export interface ComponentView {
        volume: string;
        destination: string;
        originNode: string;
        originRun: bigint;
        method: Method;
        verifiedAt: bigint | null;
        confirmedRun: bigint | null;
        epoch: bigint;
    }
    /** A listener's answer that refuses: the run (sync:preflight) or the offload of a component (gate:check). */
    export interface Refusal {
        refuse: string;
        hint?: string;
    }
    /** A listener's answer that a verification method does not count as evidence. */
    export interface Rejection {
        reject: string;
    }
    /** A listener's answer to when a component stops being fresh (null: it already has, e.g. never verified). */
    export interface ExpiryDecision {
        expiresAt: bigint | null;
        why: string;
    }
    /**
     * Every hook: its payload and the decision a listener may return (`never`: it only observes).
     * A listener that reads a field its payload lacks, or returns another decision, does not compile.
     * A listener returns nothing to agree; payloads are read-only views, never mutators.
     */
    export interface HookMap {
        "run:begin": {
            payload: {
                run: RunInfo;
            };
            decision: never;
        };
        "run:finish": {
            payload: {
                run: RunInfo;
                status: string;
                counts: Record<string, unknown>;
            };
            decision: never;
        };
        "index:finish": {
            payload: {
                run: RunInfo;
                volume: string;
                path: string;
                changed: boolean;
                counts: Record<string, number>;
            };
            decision: never;
        };
        /** Before the manifest is captured and anything is transferred; a Refusal refuses the run (exit 3). */
        "sync:preflight": {
            payload: {
                run: RunInfo;
                volume: string;
                destination: string;
                type: string;
                options: Record<string, unknown>;
                table: Record<string, unknown>;
                /**
                 * What the destination can verify by, as its handler reports it; its `facts` are how the
                 * plugin that registered this type recognises a handler it opened (kopia: `config_file`).
                 */
                capabilities: Capabilities;
            };
            decision: Refusal;
        };
        /** A proposed evidence method; a Rejection means evidence by it does not count. */
        "evidence:advance": {
            payload: {
                volume: string;
                destination: string;
                type: string;
                originNode: string;
                method: Method;
            };
            decision: Rejection;
        };
        /** Gate evaluation of one evidence component; a Refusal keeps that component's files at that destination. */
        "gate:check": {
            payload: {
                volume: string;
                destination: string;
                table: Record<string, unknown>;
                config: Record<string, unknown>;
                component: ComponentView;
                now: bigint;
            };
            decision: Refusal;
        };
        /** When a current-epoch component stops being fresh; the earliest ExpiryDecision wins. */
        "evidence:expiry": {
            payload: {
                volume: string;
                destination: string;
                table: Record<string, unknown>;
                config: Record<string, unknown>;
                component: ComponentView;
                now: bigint;
            };
            decision: ExpiryDecision;
        };
    }
    export type HookName = keyof HookMap;
    export type HookPayload<K extends HookName> = HookMap[K]["payload"];
    export type HookDecision<K extends HookName> = HookMap[K]["decision"];
    /** A listener: reads the payload, returns its decision (or nothing), possibly asynchronously. */
    export type Listener<K extends HookName> = (payload: Readonly<HookPayload<K>>) => HookDecision<K> | void | Promise<HookDecision<K> | void>;

    export interface SpawnResult {
        code: number | null;
        signal: string | null;
        stdout: string;
        stderr: string;
        /** Stopped by `timeoutMs` (its process group terminated, then killed). */
        timedOut?: boolean;
    }
    /** How api.util.spawn runs a command (always without a shell, in a process group of its own). */
    export interface SpawnOptions {
        /** Overlaid on hoard's own environment (undefined removes a variable); with `inheritEnv: false`, the whole environment. */
        env?: Record<string, string | undefined>;
        /** false: the child sees only `env`. Default true. */
        inheritEnv?: boolean;
        cwd?: string;
        /** Abort kills the child's whole process group. */
        signal?: AbortSignal;
        stdin?: string;
        onStderrLine?(line: string): void;
        onStdoutLine?(line: string): void;
        /** Keep at most this many characters of stdout (default unlimited). */
        maxStdout?: number;
        /**
         * Send stdout to a private, already unlinked temporary file and read it once the command has
         * exited, instead of through a pipe: for large outputs (a listing of 100,000 objects) far cheaper.
         * onStdoutLine is then called for every line after the command exits.
         */
        stdoutToFile?: boolean;
        /** Every chunk of stdout as raw bytes, as it arrives (e.g. a file streamed back to be hashed); stdout is then not kept. */
        onStdoutData?(chunk: Uint8Array): void;
        /** Throw stdout away (a hook's output is not hoard's). */
        discardStdout?: boolean;
        /** Called with the child's pid (also its process group id) once it has started. */
        onStart?(pid: number): void;
        /** After this long, SIGTERM to the child's process group, `killGraceMs` (default 2000) for it to go, then SIGKILL. */
        timeoutMs?: number;
        killGraceMs?: number;
        /**
         * Once the child has exited, wait at most this long for its output streams to end (a background
         * grandchild may hold them open). Default: until they end. Output through files never waits.
         */
        settleMs?: number;
    }
    /** What an anchored operation could not get past: a symlink (never followed), a non-directory, a missing entry. */
    export type AnchorKind = "symlink" | "not_dir" | "missing" | "io";
    /** lstat of one entry of an anchored directory (bigint fields, like node:fs's BigIntStats). */
    export interface AnchoredStat {
        size: bigint;
        mode: bigint;
        ino: bigint;
        dev: bigint;
        mtimeNs: bigint;
        isFile(): boolean;
        isDirectory(): boolean;
        isSymbolicLink(): boolean;
    }
    /**
     * An open directory handle (Linux, through /proc/self/fd): every operation names one entry of this
     * very directory, and no symlink is ever followed, wherever the directory has been moved since. A
     * failure to reach an entry throws an Error with `kind: AnchorKind`. Close what you open.
     */
    export interface AnchoredDir {
        /** For messages only: nothing resolves it again. */
        readonly path: string;
        /** `/proc/self/fd/N/name`: the entry `name` (one component) of this directory, for node:fs calls or writeFileAtomic. */
        at(name: string): string;
        /** The directory `parts` below this one, each component a real directory (with create: made when missing). */
        openDir(parts: string[], opts?: {
            create?: boolean;
        }): AnchoredDir;
        /** A descriptor of the entry `name` (O_NOFOLLOW always added): `flags` from node:fs `constants`. */
        openFile(name: string, flags: number, mode?: number): number;
        /** lstat of `name`, or undefined when there is no such entry. */
        stat(name: string): AnchoredStat | undefined;
        unlink(name: string): void;
        /** rename(2) of `from` here to `to` in `toDir` (replaces `to`). */
        rename(from: string, toDir: AnchoredDir, to: string): void;
        /** A second name `to` in `toDir` for `from`; fails with EEXIST rather than replace anything. */
        link(from: string, toDir: AnchoredDir, to: string): void;
        mkdir(name: string, mode?: number): void;
        list(): string[];
        /** fsync of the directory itself (its entry changes become durable). */
        sync(): void;
        close(): void;
    }
    export interface PluginUtil {
        /** A valibot schema for a secret: a string, or { env = "VAR" } resolved from the environment. */
        secret(): GenericSchema<unknown, string>;
        /** Parse "30d", "12h", "1h30m" into nanoseconds. */
        parseDuration(s: string): bigint;
        formatDuration(ns: bigint): string;
        /**
         * Spawn a tool without a shell, in its own process group; never put secrets in args (pass them in
         * env). Rejects only when the command cannot be started. See SpawnOptions.
         */
        spawn(cmd: string, args: string[], opts?: SpawnOptions): Promise<SpawnResult>;
        /** BLAKE3 hex of a local file. */
        blake3File(path: string): Promise<string>;
        blake3Stream(): {
            update(chunk: Uint8Array): void;
            digestHex(): string;
        };
        nowNs(): bigint;
        /**
         * Replace `path` atomically: a reader or a crash sees the old file or the whole new one. Temp file
         * beside it (O_EXCL), fsync, rename onto the name (with `replace: false`: link, failing with EEXIST
         * if the name exists), fsync of the directory; on error the temp is removed. `data` may be an
         * (async) iterable of chunks: one that throws (a hash check at its end) leaves `path` untouched.
         * The final name is never followed. `path` may be an anchored entry, `dir.at(name)`.
         */
        writeFileAtomic(path: string, data: string | Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>, opts?: {
            replace?: boolean;
            mode?: number;
        }): Promise<void>;
        /** Rules shared by destinations that store each catalog as an object of their own (e.g. a snapshot). */
        catalogs: {
            /** Whether `name` is a catalog name (`<20 digits>-<BLAKE3 hex>.hcat`). */
            isName(name: string): boolean;
            /** Throws bad_catalog_name unless `name` is a catalog name. */
            checkName(dest: string, name: string): void;
            /**
             * The bytes of the first copy of `name` whose bytes hash to it, else of the first readable copy;
             * catalog_missing without copies, catalog_read (with `hint`) when none can be read.
             */
            read<T>(o: {
                dest: string;
                volume: string;
                name: string;
                copies: readonly T[];
                read(copy: T): Promise<Uint8Array | {
                    error: string;
                }>;
                hint: string;
            }): Promise<Uint8Array>;
            /**
             * putCatalog's never-replace rule: false when the name is not `stored` yet; true when it holds these
             * very bytes (nothing to write); catalog_name_taken (with `hint`) when it holds other bytes.
             */
            alreadyStored(o: {
                dest: string;
                name: string;
                bytes: Uint8Array;
                stored: boolean;
                read(): Promise<Uint8Array>;
                hint: string;
            }): Promise<boolean>;
        };
        /** Anchored filesystem work: directory handles opened one component at a time, never following a symlink. */
        anchored: {
            /** Open a trusted root directory (e.g. from the config) as the anchor of everything below it. Refuses without /proc. */
            openRoot(path: string): AnchoredDir;
            /** Split a "/"-separated relative path into parent components and final name (throws on "", ".", ".."). */
            splitRel(rel: string): {
                parents: string[];
                name: string;
            };
        };
        /** Typed errors that map to exit codes: refused (3), failure (1), config (2). */
        errors: {
            refused(code: string, msg: string, hint?: string): Error;
            failure(code: string, msg: string, hint?: string): Error;
            config(code: string, msg: string, hint?: string): Error;
        };
    }

    /** The plugin API version this hoard provides: a plugin declares `apiVersion: 1`. */
    export type ApiVersion = 1;
    export interface PolicyInfo {
        name: string;
        description: string;
    }
    export interface PluginApi {
        readonly apiVersion: number;
        /** Register a destination type (`type = "NAME"` in config); `open`'s options are inferred from `schema`. */
        destination<S extends GenericSchema>(type: DestinationType<S>): void;
        /** Register a policy (for listing); its behaviour comes from its hook listeners. */
        policy(info: PolicyInfo): void;
        /** Listen to a hook. Listeners run in plugin order. */
        on<K extends HookName>(hook: K, listener: Listener<K>): void;
        /**
         * Allow an extra key on every [destinations.X] table, or at the top level of the config, validated
         * by `schema`. Returns a typed accessor for the validated value in a listener's `table` / `config`.
         */
        configKey<S extends GenericSchema>(scope: "destination" | "root", key: string, schema: S): ConfigKey<InferOutput<S>>;
        /** valibot, so plugins loaded from disk need no bundled packages of their own. */
        readonly v: typeof v;
        /** Helpers plugins commonly need. */
        readonly util: PluginUtil;
    }
    /** A registered config key: reads its validated value (undefined when the table does not set it). */
    export interface ConfigKey<T> {
        readonly key: string;
        get(table: Readonly<Record<string, unknown>>): T | undefined;
    }
    /**
     * A plugin: a plain object, the default export of its file. `setup` only registers (destination
     * types, policies, listeners, config keys), synchronously, once at start-up; the work happens in
     * what it registered.
     */
    export interface Plugin {
        name: string;
        apiVersion: number;
        setup(api: PluginApi): void;
    }
}
