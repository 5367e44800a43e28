// The kopia destination handler: explicit init, identity from the repository's unique id, push as a
// pinned snapshot of the volume root read back into BLAKE3 (lost content uploaded again), live confirm,
// fetch, and catalogs (catalogs.ts).

import { Buffer } from "node:buffer";
import { accessSync, closeSync, constants, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import type { Capabilities, ConfirmDepth, DestinationHandler, FileOutcome, HandlerContext, Identity, ManifestEntry, OpenContext, PluginApi } from "../../src/kernel/plugin.ts";
import { loadCatalog, saveCatalog, scopeOf, type Catalog } from "./catalog.ts";
import { kopiaCatalogs } from "./catalogs.ts";
import { errorText, Kopia, type KopiaResult } from "./exec.ts";
import { floorSec, parseCreateOutput, parseLongListing, parseSnapshotList, verifyErrors, type Listed, type Snapshot } from "./listing.ts";
import { verifyPresence } from "./presence.ts";
import { readBack, type ReadItem, type ReadResult } from "./readback.ts";
import { findLost, markDeleted } from "./repair.ts";

export interface KopiaConfig {
  repository: string;
  password: { value: string; literal: boolean };
  verify_files_percent: number;
  binary?: string;
}

/**
 * What the plugin's sync:preflight listener needs from a handler it opened, found by the kopia
 * config file the handler reports in its capabilities (`facts.config_file`).
 */
export interface KopiaInternals {
  configFile: string;
  /** Connect if needed (never create) and check the connected repository is the one identify() showed. */
  ensure(signal?: AbortSignal): Promise<string>;
}

/** kopia's format blob: plaintext JSON at the repository root holding the unique id. */
export const FORMAT_BLOB = "kopia.repository.f";
/** `--tags hoard-volume:VOLUME` on every volume snapshot: another machine finds them by the volume's name. */
export const VOLUME_TAG = "hoard-volume";
/** Every snapshot hoard makes is pinned: any of them may be the last one holding an offloaded file. */
export const PIN = "hoard";

/** Every ok outcome of push/verify is a BLAKE3 read-back (or a receipt of one). */
export const METHOD_BLAKE3 = "blake3";
/** confirm at depth "presence": listed with the indexed size, data blobs in storage. */
export const METHOD_PRESENCE = "presence";

type ListingResult = { ok: true; items: Map<string, Listed> } | { ok: false; error: string };
type Verdict = { ok: true; at: bigint } | { ok: false; at: bigint; errors: string[] };
interface Found {
  e: ManifestEntry;
  snap: Snapshot;
  item: Listed;
}
/** check()'s repair of present files a push's snapshot could not give back: a new snapshot, or why not. */
type Repair = (unread: Found[]) => Promise<{ snap: Snapshot } | { note: string }>;
/** The next snapshot object that may hold an entry (undefined: none left); notes: why others did not. */
interface Cursor {
  notes: string[];
  next(): Promise<Found | undefined>;
}

/** Is the binary there and executable (a path, or a name looked up on PATH)? */
function findBinary(bin: string, path: string | undefined): boolean {
  const ok = (p: string) => {
    try {
      accessSync(p, constants.X_OK);
      return statSync(p).isFile();
    } catch {
      return false;
    }
  };
  if (bin.includes("/")) return ok(bin);
  return (path ?? "").split(delimiter).some((d) => d !== "" && ok(join(d, bin)));
}

/** Where kopia comes from, for a binary that is not there (kopia is not in most distributions' own archives). */
export const INSTALL_KOPIA = "install kopia from kopia's own apt or rpm repository, with `brew install kopia`, or as a release binary";

/** The error for a kopia binary that cannot be started: how to install it, and the `binary` option. */
export function cannotRun(dest: string, binary: string, code: string, failure: PluginApi["util"]["errors"]["failure"]): Error {
  const where = binary.includes("/") ? binary : `${binary} (looked up on PATH)`;
  const setIt = `set destinations.${dest}.binary = "/path/to/kopia" in the config (or KOPIA_BIN)`;
  if (code === "ENOENT") return failure("kopia_not_found", `kopia is not installed or not found: cannot run ${where} for destination ${dest}`, `${INSTALL_KOPIA}; if it is installed elsewhere, ${setIt}`);
  return failure("kopia_not_runnable", `cannot run kopia (${where}) for destination ${dest}: ${code}`, `check that it is an executable kopia binary; ${INSTALL_KOPIA}, or ${setIt}`);
}

/** Open a kopia destination; `opened` (the plugin's own listener) learns how to connect and check it. */
export function openKopia(api: PluginApi, o: KopiaConfig, octx: OpenContext, opened?: (i: KopiaInternals) => void): DestinationHandler {
  const { failure, refused } = api.util.errors;
  const name = octx.name;
  const repo = o.repository;
  const stateDir = octx.stateDir;
  const binary = o.binary ?? octx.env.KOPIA_BIN ?? "kopia";
  const k = new Kopia({ binary, password: o.password.value, stateDir, env: octx.env, spawn: api.util.spawn, cannotRun: (code) => cannotRun(name, binary, code, failure) });
  const literalWarning = o.password.literal
    ? `destinations.${name}.password is written literally in the config file: make sure nobody else can read that file (chmod 600), or use password = { env = "VAR" }`
    : undefined;
  // no local caches (content, metadata, index, format blob): every read-back and listing asks the
  // repository itself, so a lost or damaged blob can never be answered from an earlier read
  const connectFlags = () => ["--content-cache-size-mb=0", "--metadata-cache-size-mb=0", "--no-check-for-updates", "--disable-repository-format-cache"];
  const reachHint = `check that ${repo} is reachable and that destinations.${name}.password is right; hoard never creates a repository except in \`hoard dest init ${name}\``;

  /** The id identify() last returned: the one the kernel compared with the pinned identity. */
  let identified: string | "uninitialised" | undefined;
  let connected: Promise<string> | undefined;

  async function readIdentity(): Promise<string | "uninitialised"> {
    let st;
    try {
      st = statSync(repo);
    } catch (e: any) {
      throw failure("kopia_repo_unreachable", `kopia repository directory ${repo} (destination ${name}) is not there (${e.code ?? e.message}); is it mounted?`, `mount it, or fix destinations.${name}.repository`);
    }
    if (!st.isDirectory()) throw failure("kopia_repo_not_dir", `kopia repository path ${repo} (destination ${name}) is not a directory`);
    let raw: string;
    try {
      raw = readFileSync(join(repo, FORMAT_BLOB), "utf8");
    } catch (e: any) {
      if (e.code === "ENOENT") return "uninitialised";
      throw failure("kopia_format_unreadable", `cannot read ${join(repo, FORMAT_BLOB)}: ${e.code ?? e.message}`, reachHint);
    }
    let id: Buffer;
    try {
      const f = JSON.parse(raw);
      if (typeof f?.uniqueID !== "string") throw new Error("no uniqueID");
      id = Buffer.from(f.uniqueID, "base64");
      if (id.length === 0) throw new Error("empty uniqueID");
    } catch (e: any) {
      throw failure("kopia_format_invalid", `${join(repo, FORMAT_BLOB)} is not a kopia format blob with a unique id (${e.message})`);
    }
    return id.toString("hex");
  }

  async function status(signal?: AbortSignal): Promise<{ ok: true; id: string } | { ok: false; r: KopiaResult }> {
    const r = await k.run(["repository", "status", "--json", ...k.common()], { signal });
    if (r.code !== 0) return { ok: false, r };
    let id: unknown;
    try {
      id = JSON.parse(r.stdout.toString("utf8")).uniqueIDHex;
    } catch {}
    if (typeof id !== "string" || !/^[0-9a-f]+$/.test(id)) throw failure("kopia_status_unparsable", `kopia repository status --json (destination ${name}) printed no uniqueIDHex`);
    return { ok: true, id };
  }

  /** Our kopia config file exists, points at this repository and has the format-blob and content caches off. */
  function connectedHere(): boolean {
    try {
      const c = JSON.parse(readFileSync(k.configFile, "utf8"));
      return c?.storage?.type === "filesystem" && typeof c.storage.config?.path === "string" && resolve(c.storage.config.path) === resolve(repo) && Number(c.formatBlobCacheDuration) < 0 && !c.caching?.cacheDirectory;
    } catch {
      return false;
    }
  }

  async function connect(signal?: AbortSignal): Promise<void> {
    mkdirSync(stateDir, { recursive: true });
    const r = await k.run(["repository", "connect", "filesystem", "--path", repo, ...k.common(), ...connectFlags()], { signal });
    if (r.code !== 0) throw failure("kopia_connect_failed", `cannot connect to the kopia repository at ${repo} (destination ${name}): ${errorText(r)}`, reachHint);
  }

  function ensure(signal?: AbortSignal): Promise<string> {
    if (connected) return connected;
    const p = (async () => {
      const shown = identified ?? (identified = await readIdentity());
      if (shown === "uninitialised")
        throw refused("kopia_identity_changed", `refused: ${repo} (destination ${name}) holds no kopia repository`, `if it was wiped on purpose, run \`hoard dest reset ${name} --yes\``);
      if (!connectedHere()) await connect(signal);
      let s = await status(signal);
      if (!s.ok && /not connected/i.test(s.r.stderr)) {
        await connect(signal);
        s = await status(signal);
      }
      if (!s.ok) throw failure("kopia_open_failed", `cannot open the kopia repository at ${repo} (destination ${name}): ${errorText(s.r)}`, reachHint);
      if (s.id !== shown)
        throw refused(
          "kopia_identity_changed",
          `refused: the kopia repository at ${repo} (destination ${name}) now has unique id ${s.id}, not ${shown} which hoard checked against the pinned identity: it was re-created, replaced or pointed elsewhere`,
          `if this is expected, run \`hoard dest reset ${name} --yes\` (new epoch; files must be pushed and verified again before offload)`,
        );
      return s.id;
    })();
    connected = p;
    p.catch(() => {
      if (connected === p) connected = undefined;
    });
    return p;
  }

  /** kopia's own host and user (snapshot sources are user@host:path), from our config file. */
  function ownSource(): { host?: string; user?: string } {
    try {
      const c = JSON.parse(readFileSync(k.configFile, "utf8"));
      return { host: typeof c.hostname === "string" ? c.hostname : undefined, user: typeof c.username === "string" ? c.username : undefined };
    } catch {
      return {};
    }
  }

  /** Snapshots of this volume root made by this host and user (kopia's source), newest first. */
  function ofRoot(snaps: Snapshot[], root: string): Snapshot[] {
    const own = ownSource();
    return snaps.filter((s) => resolve(s.sourcePath) === resolve(root) && (!own.host || !s.sourceHost || s.sourceHost === own.host) && (!own.user || !s.sourceUser || s.sourceUser === own.user));
  }

  /**
   * Snapshots that may hold a volume's files, newest first: those of its root here, and those tagged
   * hoard-volume:VOLUME made elsewhere (another machine, another volume path: a recovered database on a
   * second machine); what they hold still counts only once read back into the indexed BLAKE3.
   */
  function ofVolume(snaps: Snapshot[], ctx: { volume: string; volumeRoot: string }): Snapshot[] {
    const here = new Set(ofRoot(snaps, ctx.volumeRoot));
    return snaps.filter((s) => here.has(s) || (s.rootType === "d" && s.tags[`tag:${VOLUME_TAG}`] === ctx.volume));
  }

  async function listSnapshots(signal: AbortSignal): Promise<Snapshot[]> {
    const r = await k.run(["snapshot", "list", "--all", "--json", ...k.common()], { signal });
    if (r.code !== 0) throw failure("kopia_list_failed", `kopia snapshot list failed (destination ${name}): ${errorText(r)}`, reachHint);
    try {
      return parseSnapshotList(r.stdout.toString("utf8"));
    } catch (e: any) {
      throw failure("kopia_list_unparsable", `kopia snapshot list --json (destination ${name}) printed something hoard cannot read: ${e.message}`);
    }
  }

  async function listTree(s: Snapshot, signal: AbortSignal): Promise<ListingResult> {
    const r = await k.run(["ls", "-l", "-r", s.rootObj, ...k.common()], { signal });
    if (r.code !== 0) return { ok: false, error: `cannot list kopia snapshot ${s.id}: ${errorText(r)}` };
    return { ok: true, items: parseLongListing(r.stdout.toString("utf8")) };
  }

  /** One object's bytes: to a sink. Resolves with the failed command's error text, or undefined. */
  async function show(obj: string, sink: (b: Buffer) => void, signal: AbortSignal): Promise<string | undefined> {
    const r = await k.run(["show", obj, ...k.common()], { sink, signal });
    return r.code === 0 ? undefined : errorText(r);
  }

  /** Does a listed entry hold this manifest entry (regular file, size, mtime to the second)? null = yes. */
  function mismatch(e: ManifestEntry, it: Listed | undefined): string | null {
    if (!it) return "absent";
    if (it.kind !== "file") return "not a regular file there";
    if (it.size !== e.size) return `size ${it.size} there, ${e.size} indexed`;
    if (it.mtimeSec !== null && it.mtimeSec !== floorSec(e.mtimeNs)) return `modification time ${new Date(Number(it.mtimeSec) * 1000).toISOString()} there, ${new Date(Number(e.mtimeNs / 1_000_000n)).toISOString()} indexed`;
    return null;
  }

  /** What one run knows about the repository: snapshots and listings, each asked for at most once. */
  function session(ctx: HandlerContext, cat: Catalog) {
    const signal = ctx.signal;
    let all: Promise<Snapshot[]> | undefined;
    const snapshots = () => (all ??= listSnapshots(signal));
    const listings = new Map<string, Promise<ListingResult>>();
    const listing = (s: Snapshot) => {
      let p = listings.get(s.id);
      if (!p) listings.set(s.id, (p = listTree(s, signal)));
      return p;
    };
    const holderSnap = async (e: ManifestEntry): Promise<Snapshot | undefined> => {
      const h = cat.files[e.path];
      if (!h || h.b3 !== e.blake3) return undefined;
      return (await snapshots()).find((s) => s.id === h.snap);
    };
    /**
     * Where an entry may be held, best first: the snapshot its content was last checked in, `first`,
     * then every snapshot of the volume root, newest first; each distinct object once. Listings that
     * fail or hold another version are noted.
     */
    function cursor(e: ManifestEntry, first?: Snapshot): Cursor {
      const notes: string[] = [];
      const gen = (async function* (): AsyncGenerator<Found> {
        const seen = new Set<string>();
        const objs = new Set<string>();
        const order = async function* () {
          const h = await holderSnap(e);
          if (h) yield h;
          if (first) yield first;
          yield* ofVolume(await snapshots(), ctx);
        };
        for await (const s of order()) {
          if (seen.has(s.id)) continue;
          seen.add(s.id);
          const l = await listing(s);
          if (!l.ok) {
            notes.push(l.error);
            continue;
          }
          const it = l.items.get(e.path);
          const why = mismatch(e, it);
          if (why === null) {
            if (objs.has(it!.obj)) continue;
            objs.add(it!.obj);
            yield { e, snap: s, item: it! };
          } else if (why !== "absent") notes.push(`snapshot ${s.id}: ${why}`);
        }
      })();
      return { notes, next: async () => ((await gen.next()).value as Found | undefined) ?? undefined };
    }
    return { snapshots, listing, cursor };
  }

  /** Read objects back into BLAKE3 (hoard's private state dir holds the temporary copies). */
  function reader(ctx: HandlerContext) {
    const memo = new Map<string, ReadResult>();
    return async (items: ReadItem[]): Promise<Map<string, ReadResult>> => {
      const want = items.filter((it) => !memo.has(it.obj));
      if (want.length > 0) {
        const got = await readBack(k, want, {
          tmpRoot: join(stateDir, "tmp"),
          signal: ctx.signal,
          blake3File: (p) => ctx.blake3File(p),
          blake3Stream: () => ctx.blake3Stream(),
          now: () => ctx.now(),
          progress: (done, total, bytes) => ctx.progress({ phase: "kopia read-back", done, total, bytes }),
        });
        for (const [obj, r] of got) memo.set(obj, r);
      }
      return memo;
    };
  }

  const short = (h: string) => `${h.slice(0, 16)}…`;

  /**
   * Content checks by read-back: each entry's candidate object is read back and its BLAKE3 compared
   * with the entry's; on a mismatch or a failed read the next candidate is tried (when `more` allows).
   * Returns the entries that matched (with where) and the failure reasons of the others.
   */
  async function contentRounds(
    ctx: HandlerContext,
    start: { f: Found; cur: Cursor | undefined }[],
    hooks: { matched(f: Found, at: bigint): void; unreadable(f: Found): void },
  ): Promise<Map<string, string[]>> {
    const read = reader(ctx);
    const reasons = new Map<string, string[]>();
    let queue = start;
    while (queue.length > 0 && !ctx.signal.aborted) {
      const res = await read(queue.map((q) => ({ obj: q.f.item.obj, size: q.f.item.size })));
      const next: typeof queue = [];
      for (const q of queue) {
        const { e, snap, item } = q.f;
        const r = res.get(item.obj);
        if (!r) continue; // aborted
        const why = reasons.get(e.path) ?? [];
        if (r.ok && r.b3 === e.blake3) {
          reasons.delete(e.path);
          hooks.matched(q.f, r.at);
          continue;
        }
        if (r.ok) why.push(`content in kopia snapshot ${snap.id} differs from the index (BLAKE3 ${short(r.b3)}, expected ${short(e.blake3)})`);
        else {
          hooks.unreadable(q.f);
          why.push(`reading it back from kopia snapshot ${snap.id} failed: ${r.error}`);
        }
        reasons.set(e.path, why);
        const f = q.cur ? await q.cur.next() : undefined;
        if (f) next.push({ f, cur: q.cur });
      }
      queue = next;
    }
    return reasons;
  }

  /**
   * Per-file outcomes for a manifest. `current` is the snapshot this push just made (present files
   * must be in it); without it (verify), present files are looked up like offloaded ones. Every
   * entry is content-checked (read back into BLAKE3) unless `reuse` lets a receipt settle it.
   * `repair` (push): called once with the present files `current` could not give back; a snapshot
   * it returns is where those files are looked up and content-checked again.
   */
  async function check(manifest: ManifestEntry[], ctx: HandlerContext, repoId: string, current: Snapshot | undefined, reuse: boolean, repair?: Repair): Promise<FileOutcome[]> {
    const signal = ctx.signal;
    const cat = loadCatalog(stateDir, ctx.volume, repoId, scopeOf(ctx.receiptScope));
    const ses = session(ctx, cat);
    const out = new Map<string, FileOutcome>();
    const fail = (e: ManifestEntry, reason: string, missing = false) => out.set(e.path, missing ? { path: e.path, ok: false, reason, missing: true } : { path: e.path, ok: false, reason });
    const found = new Map<string, Found>(); // where each settled entry's content is
    const first: { f: Found; cur: Cursor | undefined }[] = [];

    let done = 0;
    for (const e of manifest) {
      if (signal.aborted) break;
      ctx.progress({ phase: "kopia listing", done: done++, total: manifest.length, current: e.path });
      if (e.status === "present" && current) {
        // the bytes on disk now went into this push's snapshot: only it may hold them
        const l = await ses.listing(current);
        if (!l.ok) {
          fail(e, l.error);
          continue;
        }
        const it = l.items.get(e.path);
        const why = mismatch(e, it);
        if (why === null) first.push({ f: { e, snap: current, item: it! }, cur: undefined });
        else if (why === "absent") {
          const err = current.errors.find((x) => x.path === e.path);
          fail(e, err ? `kopia could not read it, so snapshot ${current.id} does not hold it: ${k.scrub(err.error)}` : `not in kopia snapshot ${current.id}`, true);
        } else fail(e, `kopia snapshot ${current.id} holds a different version (${why}): the file changed since it was indexed (run \`hoard index ${ctx.volume}\`)`);
        continue;
      }
      const cur = ses.cursor(e, current);
      const f = await cur.next();
      if (f) first.push({ f, cur });
      else fail(e, `no kopia snapshot of ${ctx.volumeRoot} holds it${cur.notes.length ? ` (${cur.notes.slice(0, 3).join("; ")})` : ""}`, true);
    }

    // receipts: an object whose bytes were read back into this BLAKE3 under this scope; its blobs
    // must still be there (`snapshot verify` of the snapshots holding such objects)
    const byReceipt: { f: Found; cur: Cursor | undefined }[] = [];
    const toRead: { f: Found; cur: Cursor | undefined }[] = [];
    for (const q of first) {
      const r = reuse && !q.f.e.recheck ? cat.receipts.get(q.f.item.obj) : undefined;
      if (r && r.b3 === q.f.e.blake3) byReceipt.push(q);
      else toRead.push(q);
    }
    const verdicts = new Map<string, Verdict>();
    const pct = String(o.verify_files_percent);
    for (const { f } of byReceipt) {
      if (verdicts.has(f.snap.id) || signal.aborted) continue;
      ctx.progress({ phase: "kopia verify", done: verdicts.size, current: f.snap.id });
      const at = ctx.now();
      const r = await k.run(["snapshot", "verify", "--verify-files-percent", pct, ...k.common(), f.snap.id], { signal });
      verdicts.set(f.snap.id, r.code === 0 ? { ok: true, at } : { ok: false, at, errors: verifyErrors(r.stderr).length ? verifyErrors(r.stderr) : [errorText(r)] });
    }
    const now = ctx.now();
    for (const q of byReceipt) {
      const f = q.f;
      const v = verdicts.get(f.snap.id);
      if (!v) continue; // aborted
      if (!v.ok) {
        // the snapshot's blobs are not all there: this object's content is checked instead
        toRead.push(q);
        continue;
      }
      const r = cat.receipts.get(f.item.obj)!;
      out.set(f.e.path, { path: f.e.path, ok: true, method: METHOD_BLAKE3, verifiedAt: r.at < now ? r.at : now, unchanged: true });
      found.set(f.e.path, f);
    }

    // content checks of everything else
    const unreadablePresent: Found[] = [];
    const unreadableOther = new Map<string, ManifestEntry>(); // entries looked up in older snapshots
    const hooks = {
      matched(f: Found, at: bigint) {
        out.set(f.e.path, { path: f.e.path, ok: true, method: METHOD_BLAKE3, verifiedAt: at });
        found.set(f.e.path, f);
        cat.receipts.set(f.item.obj, { b3: f.e.blake3, at });
      },
      unreadable(f: Found) {
        cat.receipts.delete(f.item.obj);
        if (current && f.snap === current && f.e.status === "present") unreadablePresent.push(f);
        else unreadableOther.set(f.e.path, f.e);
      },
    };
    const reasons = await contentRounds(ctx, toRead, hooks);
    for (const q of toRead) {
      const e = q.f.e;
      if (out.has(e.path)) continue;
      const why = reasons.get(e.path);
      if (!why) continue; // aborted
      const changed = e.status === "present" && current && why.length === 1 && why[0]!.startsWith("content in");
      fail(e, changed ? `${why[0]}: the file changed since it was indexed (run \`hoard index ${ctx.volume}\`)` : why.slice(0, 3).join("; "));
    }

    // present files whose bytes this push's snapshot cannot give back: if kopia lost their data,
    // `repair` has it uploaded again; they are then looked up and read back in the snapshot that did,
    // and other entries that could not be read back (offloaded files of the same content) once more
    const unread = unreadablePresent.filter((f) => !out.get(f.e.path)?.ok);
    if (repair && unread.length > 0 && !signal.aborted) {
      const reasonOf = (e: ManifestEntry) => (out.get(e.path) as { reason?: string } | undefined)?.reason ?? "not read back";
      const fixed = await repair(unread);
      if ("note" in fixed) for (const f of unread) fail(f.e, `${reasonOf(f.e)}; ${fixed.note}`);
      else {
        const again = fixed.snap;
        const others = [...unreadableOther.values()].filter((e) => !out.get(e.path)?.ok);
        const prior = new Map([...unread.map((f) => f.e), ...others].map((e) => [e.path, reasonOf(e)]));
        const l = await ses.listing(again);
        const retry: { f: Found; cur: Cursor | undefined }[] = [];
        for (const f of unread) {
          const was = prior.get(f.e.path)!;
          if (!l.ok) {
            fail(f.e, `${was}; then ${l.error}`);
            continue;
          }
          const it = l.items.get(f.e.path);
          const why = mismatch(f.e, it);
          if (why === null) retry.push({ f: { e: f.e, snap: again, item: it! }, cur: undefined });
          else fail(f.e, `${was}; kopia snapshot ${again.id}, made to upload lost content again, ${why === "absent" ? "does not hold it" : `holds another version (${why})`}`);
        }
        for (const e of others) {
          const cur = ses.cursor(e);
          const f = await cur.next();
          if (f) retry.push({ f, cur });
        }
        const reasons2 = await contentRounds(ctx, retry, hooks);
        for (const { f } of retry) {
          if (out.get(f.e.path)?.ok) continue;
          const why = reasons2.get(f.e.path);
          if (why) fail(f.e, `${prior.get(f.e.path)}; after kopia uploaded lost content again: ${why.slice(0, 2).join("; ")}`);
        }
      }
    }

    // the catalog: where each checked (path, content) is, for offloaded files and fetch later
    const next: Catalog = { version: 2, repository: repoId, files: {}, scope: cat.scope, receipts: new Map() };
    for (const e of manifest) {
      const f = found.get(e.path);
      if (out.get(e.path)?.ok && f) next.files[e.path] = { b3: e.blake3, snap: f.snap.id, obj: f.item.obj };
      else if (cat.files[e.path]?.b3 === e.blake3) next.files[e.path] = cat.files[e.path]!;
    }
    for (const h of Object.values(next.files)) {
      const r = cat.receipts.get(h.obj);
      if (r && r.b3 === h.b3) next.receipts.set(h.obj, r);
    }
    await saveCatalog(api.util.writeFileAtomic, stateDir, ctx.volume, next);
    ctx.progress({ phase: "kopia", done: manifest.length, total: manifest.length });
    return manifest.map((e) => out.get(e.path) ?? { path: e.path, ok: false as const, reason: signal.aborted ? "aborted" : "not verified" });
  }

  /** Live proof right before an offload: never from receipts; the repository is asked now. */
  async function confirm(entries: ManifestEntry[], ctx: HandlerContext, depth: ConfirmDepth): Promise<FileOutcome[]> {
    const repoId = await ensure(ctx.signal);
    const signal = ctx.signal;
    const cat = loadCatalog(stateDir, ctx.volume, repoId, ""); // holders only order the snapshots
    const ses = session(ctx, cat);
    const out = new Map<string, FileOutcome>();
    const fail = (e: ManifestEntry, reason: string, missing = false) => out.set(e.path, missing ? { path: e.path, ok: false, reason, missing: true } : { path: e.path, ok: false, reason });
    const first: { f: Found; cur: Cursor }[] = [];
    let done = 0;
    for (const e of entries) {
      if (signal.aborted) break;
      ctx.progress({ phase: `kopia confirm (${depth})`, done: done++, total: entries.length, current: e.path });
      const cur = ses.cursor(e);
      const f = await cur.next();
      if (f) first.push({ f, cur });
      else fail(e, `no kopia snapshot of ${ctx.volumeRoot} holds it with size ${e.size}${cur.notes.length ? ` (${cur.notes.slice(0, 3).join("; ")})` : ""}`, true);
    }
    if (depth === "presence") {
      // the listing shows it; `snapshot verify --file-id` (no reads) shows its blobs are in storage.
      // Each file's verdict is its own object's: a failed batch is narrowed down, never confirmed whole
      const verdicts = await verifyPresence(
        k,
        first.map((q) => q.f.item.obj),
        { signal, now: () => ctx.now(), progress: (n) => ctx.progress({ phase: "kopia verify (presence)", done: n, total: first.length }) },
      );
      for (const { f } of first) {
        const v = verdicts.get(f.item.obj);
        if (!v) continue; // aborted
        if (v.ok) out.set(f.e.path, { path: f.e.path, ok: true, method: METHOD_PRESENCE, verifiedAt: v.at });
        else if (v.named) fail(f.e, `kopia snapshot ${f.snap.id} lists it, but its data is not in the repository: ${v.error}`, true);
        else fail(f.e, `kopia could not show that the data of its object is in the repository (${v.error})`);
      }
    } else {
      const reasons = await contentRounds(ctx, first, {
        matched(f, at) {
          out.set(f.e.path, { path: f.e.path, ok: true, method: METHOD_BLAKE3, verifiedAt: at });
        },
        unreadable() {},
      });
      for (const { f } of first) {
        if (out.has(f.e.path)) continue;
        const why = reasons.get(f.e.path);
        if (why) fail(f.e, why.slice(0, 3).join("; "));
      }
    }
    return entries.map((e) => out.get(e.path) ?? { path: e.path, ok: false as const, reason: signal.aborted ? "aborted" : "not confirmed" });
  }

  /** `kopia snapshot create` of the volume root, pinned; the snapshot it saved (or the latest when it saved none). */
  async function snapshot(ctx: HandlerContext, extra: string[], why: string): Promise<Snapshot> {
    const desc = `hoard ${ctx.volume} run ${ctx.runId}${why ? ` (${why})` : ""}`;
    const r = await k.run(["snapshot", "create", ctx.volumeRoot, "--json", "--pin", PIN, "--tags", `${VOLUME_TAG}:${ctx.volume}`, "--description", desc, ...extra, ...k.common()], { signal: ctx.signal });
    if (ctx.signal.aborted) throw failure("aborted", `kopia snapshot of ${ctx.volumeRoot} was interrupted`);
    let snap = parseCreateOutput(r.stdout.toString("utf8"));
    if (r.code !== 0) {
      if (!snap) throw failure("kopia_snapshot_failed", `kopia snapshot create of ${ctx.volumeRoot} (destination ${name}) failed: ${errorText(r)}`, reachHint);
      if (snap.numFailed > 0)
        ctx.warn(`${name}: kopia saved a partial snapshot ${snap.id}: ${snap.numFailed} file(s) could not be read${snap.errors.length ? ` (${snap.errors.slice(0, 3).map((x) => x.path).join(", ")}${snap.errors.length > 3 ? ", …" : ""})` : ""}; they are not claimed`);
      else ctx.warn(`${name}: kopia snapshot create exited ${r.code} after saving snapshot ${snap.id}: ${errorText(r)}`);
    } else if (!snap) {
      // nothing changed (ignore-identical policy): kopia saved nothing and printed nothing
      snap = ofRoot(await listSnapshots(ctx.signal), ctx.volumeRoot).find((s) => !s.incomplete);
      if (!snap) throw failure("kopia_no_snapshot", `kopia snapshot create of ${ctx.volumeRoot} printed no snapshot and there is no earlier one (destination ${name}): ${errorText(r)}`);
      ctx.log.info(`${name}: kopia saved no new snapshot (nothing changed); checking snapshot ${snap.id}`);
    } else if (snap.numIgnored > 0 || /Ignored \d+ error/.test(r.stderr)) {
      ctx.warn(`${name}: kopia ignored ${snap.numIgnored || "some"} error(s) in snapshot ${snap.id}${snap.errors.length ? ` (${snap.errors.slice(0, 3).map((x) => x.path).join(", ")})` : ""}; files it skipped are not claimed`);
    }
    return snap;
  }

  /**
   * Present files kopia could not give back from this push's snapshot. kopia dedupes every write
   * against its content index, so content whose pack blob was lost is never uploaded again by a
   * plain snapshot. When `kopia content verify` (index against the blob listing, nothing read)
   * names such content, exactly that content is marked deleted (`kopia content delete`: blobs are
   * not touched, and kopia's snapshot GC undeletes any of it a snapshot still references), then the
   * volume is snapshotted again hashing every file (`--force-hash=100`: unchanged files are not
   * taken from the previous snapshot), so kopia writes the lost content anew from the files here.
   * Damaged (present but unreadable) content is not repaired: a note says what to do.
   */
  async function repairLost(ctx: HandlerContext, unread: Found[], snap: Snapshot): Promise<{ snap: Snapshot } | { note: string }> {
    const n = unread.length;
    const f = await findLost(k, ctx.signal);
    if (!f.ok) return { note: `\`kopia content verify\` failed too (${f.error}), so hoard could not tell whether kopia lost its data` };
    if (f.lost.length === 0)
      return { note: `kopia's index lists no content of the repository as lost, so its stored data is there but unreadable: run \`kopia content verify --full\` against ${repo} to find the damaged blobs, and repair or replace them from a copy of the repository` };
    const blobs = [...new Set(f.lost.map((x) => x.blob))];
    ctx.warn(
      `${name}: kopia could not give back ${n} file(s) of snapshot ${snap.id}, and its index lists ${f.lost.length} content(s) whose data blobs are gone (${blobs.slice(0, 3).join(", ")}${blobs.length > 3 ? ", …" : ""}); ` +
        `hoard marks that content deleted (\`kopia content delete\`) and snapshots ${ctx.volumeRoot} again hashing every file (--force-hash=100), so kopia uploads it again from the files still here`,
    );
    const err = await markDeleted(k, f.lost.map((x) => x.content), ctx.signal);
    if (err !== undefined) return { note: `marking the lost content deleted so that kopia uploads it again failed: ${err}` };
    try {
      return { snap: await snapshot(ctx, ["--force-hash=100"], "re-upload of lost content") };
    } catch (e: any) {
      if (ctx.signal.aborted) throw e;
      return { note: `the snapshot that was to upload the lost content again failed: ${e?.message ?? e}` };
    }
  }

  const handler: DestinationHandler = {
    async capabilities(): Promise<Capabilities> {
      const warnings = literalWarning ? [literalWarning] : [];
      if (!findBinary(k.binary, octx.env.PATH)) warnings.push(`kopia binary ${k.binary} not found${k.binary.includes("/") ? "" : " on PATH"}: ${INSTALL_KOPIA}, or set destinations.${name}.binary (or KOPIA_BIN)`);
      return {
        methods: [METHOD_BLAKE3],
        warnings,
        facts: { repository: repo, binary: k.binary, verify_files_percent: o.verify_files_percent, config_file: k.configFile, pin: PIN },
      };
    },

    async init(): Promise<Identity> {
      if (literalWarning) octx.log.warn(literalWarning);
      let existing: string | "uninitialised" | undefined;
      try {
        existing = await readIdentity();
      } catch {
        existing = undefined; // no directory yet: kopia creates it
      }
      if (existing !== undefined && existing !== "uninitialised")
        throw failure("kopia_repo_exists", `${repo} already holds a kopia repository (unique id ${existing}); hoard only pins repositories it created`, `point destinations.${name}.repository at an empty or new directory`);
      mkdirSync(stateDir, { recursive: true });
      const r = await k.run(["repository", "create", "filesystem", "--path", repo, ...k.common(), ...connectFlags()]);
      if (r.code !== 0) throw failure("kopia_create_failed", `kopia repository create at ${repo} (destination ${name}) failed: ${errorText(r)}`, `check that ${repo} is an empty, writable directory`);
      identified = await readIdentity();
      if (identified === "uninitialised") throw failure("kopia_create_failed", `kopia repository create at ${repo} reported success but ${FORMAT_BLOB} is not there`);
      const id = await ensure();
      return { id, detail: `kopia repository at ${repo}` };
    },

    async identify() {
      identified = await readIdentity();
      return identified === "uninitialised" ? "uninitialised" : { id: identified, detail: `kopia repository at ${repo}` };
    },

    async push(manifest, ctx) {
      const repoId = await ensure(ctx.signal);
      ctx.progress({ phase: "kopia snapshot", done: 0, total: manifest.length });
      const snap = await snapshot(ctx, [], "");
      return check(manifest, ctx, repoId, snap, true, (unread) => repairLost(ctx, unread, snap));
    },

    async verify(manifest, ctx) {
      const repoId = await ensure(ctx.signal);
      return check(manifest, ctx, repoId, undefined, false); // verify re-checks everything
    },

    confirm,

    async fetch(entry, targetPath, ctx) {
      const repoId = await ensure(ctx.signal);
      const cat = loadCatalog(stateDir, ctx.volume, repoId, "");
      const snaps = await listSnapshots(ctx.signal);
      const h = cat.files[entry.path];
      const held = h && h.b3 === entry.blake3 ? snaps.find((s) => s.id === h.snap) : undefined;
      const order = [...(held ? [held] : []), ...ofVolume(snaps, ctx).filter((s) => s !== held)];
      const notes: string[] = [];
      for (const s of order) {
        const l = await listTree(s, ctx.signal);
        if (!l.ok) {
          notes.push(l.error);
          continue;
        }
        const it = l.items.get(entry.path);
        if (mismatch(entry, it) !== null) continue;
        const fd = openSync(targetPath, "wx", 0o600);
        let err: string | undefined;
        try {
          err = await show(it!.obj, (b) => {
            for (let off = 0; off < b.length; ) off += writeSync(fd, b, off);
          }, ctx.signal);
          if (err === undefined) fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        if (err === undefined) return;
        rmSync(targetPath, { force: true });
        notes.push(`snapshot ${s.id}: ${err}`);
      }
      throw failure("kopia_fetch_failed", `no kopia snapshot of ${ctx.volumeRoot} could give back ${entry.path} (destination ${name})${notes.length ? `: ${notes.slice(0, 3).join("; ")}` : ""}`);
    },

    ...kopiaCatalogs(api, k, { dest: name, stateDir, pin: PIN, reachHint, ensure, listSnapshots: (signal) => listSnapshots(signal ?? new AbortController().signal) }),
  };
  opened?.({ configFile: k.configFile, ensure });
  return handler;
}
