// One kopia repository as a destination sees it: its identity (the format blob's unique id), connecting
// (never creating, except in init), the snapshots and listings in it, and pinned snapshots of a volume.

import { Buffer } from "node:buffer";
import { accessSync, constants, mkdirSync, readFileSync, statSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import type { HandlerContext, ManifestEntry, OpenContext, PluginApi } from "../../src/kernel/plugin.ts";
import { errorText, Kopia, type KopiaResult } from "./exec.ts";
import { floorSec, parseCreateOutput, parseLongListing, parseSnapshotList, type Listed, type Snapshot } from "./listing.ts";

export interface KopiaConfig {
  repository: string;
  password: { value: string; literal: boolean };
  verify_files_percent: number;
  binary?: string;
}

/** kopia's format blob: plaintext JSON at the repository root holding the unique id. */
export const FORMAT_BLOB = "kopia.repository.f";
/** `--tags hoard-volume:VOLUME` on every volume snapshot: another machine finds them by the volume's name. */
export const VOLUME_TAG = "hoard-volume";
/** Every snapshot hoard makes is pinned: any of them may be the last one holding an offloaded file. */
export const PIN = "hoard";

export type ListingResult = { ok: true; items: Map<string, Listed> } | { ok: false; error: string };

/** Is the binary there and executable (a path, or a name looked up on PATH)? */
export function findBinary(bin: string, path: string | undefined): boolean {
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

/** Does a listed entry hold this manifest entry (regular file, size, mtime to the second)? null = yes. */
export function mismatch(e: ManifestEntry, it: Listed | undefined): string | null {
  if (!it) return "absent";
  if (it.kind !== "file") return "not a regular file there";
  if (it.size !== e.size) return `size ${it.size} there, ${e.size} indexed`;
  if (it.mtimeSec !== null && it.mtimeSec !== floorSec(e.mtimeNs)) return `modification time ${new Date(Number(it.mtimeSec) * 1000).toISOString()} there, ${new Date(Number(e.mtimeNs / 1_000_000n)).toISOString()} indexed`;
  return null;
}

export type KopiaRepository = ReturnType<typeof kopiaRepository>;

/** The repository of a kopia destination (its config's `repository`), run through `k`. */
export function kopiaRepository(api: PluginApi, o: KopiaConfig, octx: OpenContext) {
  const { failure, refused } = api.util.errors;
  const name = octx.name;
  const repo = o.repository;
  const stateDir = octx.stateDir;
  const binary = o.binary ?? octx.env.KOPIA_BIN ?? "kopia";
  const k = new Kopia({ binary, password: o.password.value, stateDir, env: octx.env, spawn: api.util.spawn, cannotRun: (code) => cannotRun(name, binary, code, failure) });
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

  /** identify(): the repository's unique id now ("uninitialised" without a format blob), remembered for ensure(). */
  async function identify(): Promise<string | "uninitialised"> {
    identified = await readIdentity();
    return identified;
  }

  /** init(): create the repository (only where none is), connect, and return its unique id. */
  async function create(): Promise<string> {
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
    return ensure();
  }

  return { k, name, repo, stateDir, reachHint, identify, create, ensure, ofRoot, ofVolume, listSnapshots, listTree, show, snapshot };
}
