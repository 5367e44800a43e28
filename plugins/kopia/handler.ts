// The kopia destination handler: explicit init, identity from the repository's unique id, push as a
// pinned snapshot of the volume root checked against its listing + `snapshot verify`, and fetch.

import { Buffer } from "node:buffer";
import { accessSync, closeSync, constants, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import type { Capabilities, DestinationHandler, FileOutcome, HandlerContext, Identity, ManifestEntry, OpenContext, PluginApi } from "../../src/kernel/plugin.ts";
import { loadCatalog, saveCatalog, type Catalog } from "./catalog.ts";
import { errorText, Kopia, type KopiaResult } from "./exec.ts";
import { floorSec, parseCreateOutput, parseLongListing, parseSnapshotList, verifyErrors, type Listed, type Snapshot } from "./listing.ts";

export interface KopiaConfig {
  repository: string;
  password: { value: string; literal: boolean };
  verify_files_percent: number;
  binary?: string;
}

/** What the plugin's sync:preflight listener needs from a handler it opened. */
export interface KopiaInternals {
  /** Connect if needed (never create) and check the connected repository is the one identify() showed. */
  ensure(signal?: AbortSignal): Promise<string>;
}
export const internals = new WeakMap<DestinationHandler, KopiaInternals>();

/** kopia's format blob: plaintext JSON at the repository root holding the unique id. */
export const FORMAT_BLOB = "kopia.repository.f";
/** Every snapshot hoard makes is pinned: any of them may be the last one holding an offloaded file. */
export const PIN = "hoard";
/** BLAKE3 read-back budget per run for objects never read back before (offloaded entries first). */
const READBACK_FILES = 16;
const READBACK_BYTES = 256 * 1024 * 1024;

export const METHOD_VERIFIED = "kopia-verified";
export const METHOD_BLAKE3 = "blake3";

type ListingResult = { ok: true; items: Map<string, Listed> } | { ok: false; error: string };
type Verdict = { ok: true; at: bigint } | { ok: false; at: bigint; errors: string[] };
interface Found {
  e: ManifestEntry;
  snap: Snapshot;
  item: Listed;
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

export function openKopia(api: PluginApi, o: KopiaConfig, octx: OpenContext): DestinationHandler {
  const { failure, refused } = api.util.errors;
  const name = octx.name;
  const repo = o.repository;
  const stateDir = octx.stateDir;
  const k = new Kopia({ binary: o.binary ?? octx.env.KOPIA_BIN ?? "kopia", password: o.password.value, stateDir, env: octx.env });
  const literalWarning = o.password.literal
    ? `destinations.${name}.password is written literally in the config file: make sure nobody else can read that file (chmod 600), or use password = { env = "VAR" }`
    : undefined;
  const connectFlags = () => ["--cache-directory", k.cacheDir, "--no-check-for-updates", "--disable-repository-format-cache"];
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

  /** Our kopia config file exists, points at this repository and has the format-blob cache off. */
  function connectedHere(): boolean {
    try {
      const c = JSON.parse(readFileSync(k.configFile, "utf8"));
      return c?.storage?.type === "filesystem" && typeof c.storage.config?.path === "string" && resolve(c.storage.config.path) === resolve(repo) && Number(c.formatBlobCacheDuration) < 0;
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

  /**
   * Per-file outcomes for a manifest. `current` is the snapshot this push just made (present files
   * must be in it); without it (verify), present files are looked up like offloaded ones.
   */
  async function check(manifest: ManifestEntry[], ctx: HandlerContext, repoId: string, current: Snapshot | undefined): Promise<FileOutcome[]> {
    const signal = ctx.signal;
    const cat = loadCatalog(stateDir, ctx.volume, repoId);
    let all: Snapshot[] | undefined;
    const snapshots = async () => (all ??= await listSnapshots(signal));
    const ofSource = async () => ofRoot(await snapshots(), ctx.volumeRoot);
    const listings = new Map<string, Promise<ListingResult>>();
    const listing = (s: Snapshot) => {
      let p = listings.get(s.id);
      if (!p) listings.set(s.id, (p = listTree(s, signal)));
      return p;
    };

    const found = new Map<string, Found>();
    const out = new Map<string, FileOutcome>();
    const fail = (e: ManifestEntry, reason: string, missing = false) => out.set(e.path, missing ? { path: e.path, ok: false, reason, missing: true } : { path: e.path, ok: false, reason });

    /** Try snapshots in order; the first whose listing holds the entry wins. */
    async function locate(e: ManifestEntry, candidates: () => AsyncIterable<Snapshot>): Promise<{ f?: Found; notes: string[] }> {
      const notes: string[] = [];
      for await (const s of candidates()) {
        const l = await listing(s);
        if (!l.ok) {
          notes.push(l.error);
          continue;
        }
        const why = mismatch(e, l.items.get(e.path));
        if (why === null) return { f: { e, snap: s, item: l.items.get(e.path)! }, notes };
        if (why !== "absent") notes.push(`snapshot ${s.id}: ${why}`);
      }
      return { notes };
    }
    const holderSnap = async (e: ManifestEntry): Promise<Snapshot | undefined> => {
      const h = cat.files[e.path];
      if (!h || h.b3 !== e.blake3) return undefined;
      return (await snapshots()).find((s) => s.id === h.snap);
    };

    let done = 0;
    for (const e of manifest) {
      if (signal.aborted) break;
      ctx.progress({ phase: "kopia listing", done: done++, total: manifest.length, current: e.path });
      if (e.status === "present" && current) {
        const l = await listing(current);
        if (!l.ok) {
          fail(e, l.error);
          continue;
        }
        const it = l.items.get(e.path);
        const why = mismatch(e, it);
        if (why === null) found.set(e.path, { e, snap: current, item: it! });
        else if (why === "absent") {
          const err = current.errors.find((x) => x.path === e.path);
          fail(e, err ? `kopia could not read it, so snapshot ${current.id} does not hold it: ${k.scrub(err.error)}` : `not in kopia snapshot ${current.id}`, true);
        } else fail(e, `kopia snapshot ${current.id} holds a different version (${why}): the file changed since it was indexed (run \`hoard index ${ctx.volume}\`)`);
        continue;
      }
      // offloaded entries (and present ones when verifying): the catalog's holder, this push's
      // snapshot, then every snapshot of the volume root, newest first
      const scanAll = e.status === "offloaded";
      const r = await locate(e, async function* () {
        const seen = new Set<string>();
        const h = await holderSnap(e);
        if (h) (seen.add(h.id), yield h);
        if (current && !seen.has(current.id)) (seen.add(current.id), yield current);
        const src = await ofSource();
        for (const s of scanAll ? src : src.slice(0, 1)) if (!seen.has(s.id)) (seen.add(s.id), yield s);
      });
      if (r.f) found.set(e.path, r.f);
      else fail(e, `no kopia snapshot of ${ctx.volumeRoot} holds it${r.notes.length ? ` (${r.notes.slice(0, 3).join("; ")})` : ""}`, true);
    }

    // `snapshot verify` once per snapshot that holds something
    const verdicts = new Map<string, Verdict>();
    const pct = String(o.verify_files_percent);
    for (const f of found.values()) {
      if (verdicts.has(f.snap.id) || signal.aborted) continue;
      ctx.progress({ phase: "kopia verify", done: verdicts.size, current: f.snap.id });
      const at = ctx.now();
      const r = await k.run(["snapshot", "verify", "--verify-files-percent", pct, ...k.common(), f.snap.id], { signal });
      verdicts.set(f.snap.id, r.code === 0 ? { ok: true, at } : { ok: false, at, errors: verifyErrors(r.stderr).length ? verifyErrors(r.stderr) : [errorText(r)] });
    }

    // BLAKE3 read-back: offloaded files in a snapshot that failed verification (is it really lost?),
    // then, within a budget, objects never read back before (offloaded first, then by path)
    const readback = new Set<string>();
    const attributed = (f: Found, v: Verdict) => (v.ok ? undefined : v.errors.find((l) => l.includes(`/${f.e.path}:`) || l.includes(f.item.obj)));
    for (const f of found.values()) {
      const v = verdicts.get(f.snap.id);
      if (v && !v.ok && f.e.status === "offloaded" && !attributed(f, v)) readback.add(f.e.path);
    }
    const fresh = [...found.values()]
      .filter((f) => verdicts.get(f.snap.id)?.ok && cat.confirmed[f.item.obj] !== f.e.blake3)
      .sort((a, b) => (a.e.status !== b.e.status ? (a.e.status === "offloaded" ? -1 : 1) : a.e.path < b.e.path ? -1 : a.e.path > b.e.path ? 1 : 0));
    let files = 0;
    let bytes = 0;
    for (const f of fresh) {
      if (files >= READBACK_FILES) break;
      if (bytes + f.e.size > READBACK_BYTES) continue;
      readback.add(f.e.path);
      files++;
      bytes += f.e.size;
    }

    for (const e of manifest) {
      const f = found.get(e.path);
      if (!f || out.has(e.path)) continue;
      const v = verdicts.get(f.snap.id);
      if (!v) continue; // aborted
      if (readback.has(e.path)) {
        if (signal.aborted) continue;
        ctx.progress({ phase: "kopia read-back", done: 0, current: e.path });
        const h = ctx.blake3Stream();
        const err = await show(f.item.obj, (b) => h.update(b), signal);
        const at = ctx.now();
        if (err !== undefined) fail(e, `reading it back from kopia snapshot ${f.snap.id} failed: ${err}`);
        else {
          const digest = h.digestHex();
          if (digest === e.blake3) {
            cat.confirmed[f.item.obj] = e.blake3;
            out.set(e.path, { path: e.path, ok: true, method: METHOD_BLAKE3, verifiedAt: at });
          } else fail(e, `content in kopia snapshot ${f.snap.id} differs from the index (BLAKE3 ${digest.slice(0, 16)}…, expected ${e.blake3.slice(0, 16)}…)`);
        }
        continue;
      }
      if (v.ok) out.set(e.path, { path: e.path, ok: true, method: METHOD_VERIFIED, verifiedAt: v.at });
      else {
        const own = attributed(f, v);
        fail(
          e,
          own
            ? `kopia snapshot verify found it damaged in snapshot ${f.snap.id}: ${own}`
            : `kopia snapshot verify of snapshot ${f.snap.id} failed (${v.errors.length} error${v.errors.length === 1 ? "" : "s"}: ${v.errors.slice(0, 2).join("; ")}), so nothing in it is claimed; a lost blob is not re-uploaded by later snapshots: repair the repository (kopia snapshot fix) or reset the destination`,
        );
      }
    }

    // the catalog: where each verified (path, content) is, for offloaded files and fetch later
    const next: Catalog = { version: 1, repository: repoId, files: {}, confirmed: cat.confirmed };
    for (const e of manifest) {
      const o2 = out.get(e.path);
      const f = found.get(e.path);
      if (o2?.ok && f) next.files[e.path] = { b3: e.blake3, snap: f.snap.id, obj: f.item.obj };
      else if (cat.files[e.path]?.b3 === e.blake3) next.files[e.path] = cat.files[e.path]!;
    }
    const liveObjs = new Set(Object.values(next.files).map((h) => h.obj));
    for (const obj of Object.keys(next.confirmed)) if (!liveObjs.has(obj)) delete next.confirmed[obj];
    saveCatalog(stateDir, ctx.volume, next);
    ctx.progress({ phase: "kopia", done: manifest.length, total: manifest.length });
    return manifest.map((e) => out.get(e.path) ?? { path: e.path, ok: false as const, reason: signal.aborted ? "aborted" : "not verified" });
  }

  const handler: DestinationHandler = {
    async capabilities(): Promise<Capabilities> {
      const warnings = literalWarning ? [literalWarning] : [];
      if (!findBinary(k.binary, octx.env.PATH)) warnings.push(`kopia binary ${k.binary} not found${k.binary.includes("/") ? "" : " on PATH"} (set destinations.${name}.binary or KOPIA_BIN)`);
      return {
        methods: [METHOD_VERIFIED, METHOD_BLAKE3],
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
      const r = await k.run(["snapshot", "create", ctx.volumeRoot, "--json", "--pin", PIN, "--description", `hoard ${ctx.volume} run ${ctx.runId}`, ...k.common()], { signal: ctx.signal });
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
      return check(manifest, ctx, repoId, snap);
    },

    async verify(manifest, ctx) {
      const repoId = await ensure(ctx.signal);
      return check(manifest, ctx, repoId, undefined);
    },

    async fetch(entry, targetPath, ctx) {
      const repoId = await ensure(ctx.signal);
      const cat = loadCatalog(stateDir, ctx.volume, repoId);
      const snaps = await listSnapshots(ctx.signal);
      const h = cat.files[entry.path];
      const held = h && h.b3 === entry.blake3 ? snaps.find((s) => s.id === h.snap) : undefined;
      const order = [...(held ? [held] : []), ...ofRoot(snaps, ctx.volumeRoot).filter((s) => s !== held)];
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
  };
  internals.set(handler, { ensure });
  return handler;
}
