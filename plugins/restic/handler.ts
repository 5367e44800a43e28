// The restic destination handler: explicit init, identity from the repository id (`cat config`), push
// as a tagged snapshot of the manifest's present files whose stored bytes are read back into BLAKE3,
// scoped receipts, live confirm from `ls --json` (+ `check`) or a read-back, fetch by `dump`, catalogs.

import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Capabilities, ConfirmDepth, DestinationHandler, FileOutcome, HandlerContext, Identity, ManifestEntry, OpenContext, PluginApi } from "hoard/plugin";
import { resticCatalogs } from "./catalogs.ts";
import { classify, errorText, Restic } from "./exec.ts";
import { backupErrors, nodeCollector, parseSnapshots, parseSummary, type Node, type Snapshot } from "./listing.ts";
import { readBack } from "./readback.ts";
import { loadState, saveState, type State } from "./receipts.ts";

export interface ResticConfig {
  repository: string;
  password: string;
  binary?: string;
}

/** Every snapshot hoard makes carries this tag, plus `volume:<name>` and `run:<id>`. */
export const TAG = "hoard";
/** restic's host field for hoard's snapshots: fixed, so snapshots do not depend on the machine's name. */
export const HOST = "hoard";
export const METHOD_BLAKE3 = "blake3";
export const METHOD_PRESENCE = "presence";

/** A local repository path (not `sftp:` / `rclone:`): its directory can be looked at directly. */
export const isLocal = (repo: string) => repo.startsWith("/");

interface Found {
  e: ManifestEntry;
  snap: string;
  node: Node;
  /** Snapshots still to look in when this one does not hold the indexed content (undefined: none). */
  cursor?: Cursor;
}
interface Cursor {
  notes: string[];
  next(): Promise<{ snap: string; node: Node } | undefined>;
}

export function openRestic(api: PluginApi, o: ResticConfig, octx: OpenContext): DestinationHandler {
  const { failure, refused } = api.util.errors;
  const name = octx.name;
  const repo = o.repository;
  const stateDir = octx.stateDir;
  const r = new Restic(api, { binary: o.binary ?? octx.env.RESTIC_BIN ?? "restic", repository: repo, password: o.password, stateDir, env: octx.env });
  const reachHint = `check that ${repo} is reachable and that destinations.${name}.password is right; hoard never creates a repository except in \`hoard dest init ${name}\``;

  /** An error for a failed restic command, with restic's own advice for a lock. */
  function failed(what: string, res: Awaited<ReturnType<Restic["run"]>>): Error {
    switch (classify(res)) {
      case "locked":
        return failure(
          "restic_locked",
          `restic repository ${repo} (destination ${name}) is locked, so ${what} did not run: ${errorText(res, 6)}`,
          `restic's advice: "the \`unlock\` command can be used to remove stale locks". If no other restic process is using this repository, run \`restic -r ${repo} unlock\` yourself; hoard never removes locks`,
        );
      case "wrong_password":
        return failure("restic_wrong_password", `restic could not open ${repo} (destination ${name}): wrong password or no key found`, `check destinations.${name}.password`);
      case "no_repository":
        return refused("restic_identity_changed", `refused: ${repo} (destination ${name}) holds no restic repository any more`, `if it was wiped on purpose, run \`hoard dest reset ${name} --yes\``);
      default:
        return failure("restic_failed", `${what} at ${repo} (destination ${name}) failed: ${errorText(res)}`, reachHint);
    }
  }

  async function readId(signal?: AbortSignal): Promise<string | "uninitialised"> {
    if (isLocal(repo)) {
      let st;
      try {
        st = statSync(repo);
      } catch (e: any) {
        throw failure("restic_repo_unreachable", `restic repository directory ${repo} (destination ${name}) is not there (${e.code ?? e.message}); is it mounted?`, `mount it, or fix destinations.${name}.repository`);
      }
      if (!st.isDirectory()) throw failure("restic_repo_not_dir", `restic repository path ${repo} (destination ${name}) is not a directory`);
      if (!existsSync(join(repo, "config"))) return "uninitialised";
    }
    const res = await r.run(["cat", "config", "--no-lock"], { signal });
    if (res.code !== 0) {
      const kind = classify(res);
      // provably absent: restic found no config file where the repository should be
      if (kind === "no_repository" && /no such file|does not exist|not exist|not found/i.test(res.stderr)) return "uninitialised";
      if (kind === "no_repository") throw failure("restic_repo_unreachable", `cannot read the restic repository at ${repo} (destination ${name}): ${errorText(res)}`, reachHint);
      throw failed("restic cat config", res);
    }
    let id: unknown;
    try {
      id = JSON.parse(res.stdout).id;
    } catch {}
    if (typeof id !== "string" || !/^[0-9a-f]{64}$/.test(id)) throw failure("restic_config_invalid", `restic cat config (destination ${name}) printed no repository id`);
    return id;
  }

  /** The id identify() last returned: the one the kernel compared with the pinned identity. */
  let identified: string | "uninitialised" | undefined;
  let checked: Promise<string> | undefined;

  /** The repository answers with the id identify() showed (asked once per identify()). */
  function ensure(signal?: AbortSignal): Promise<string> {
    if (checked) return checked;
    const p = (async () => {
      let shown = identified;
      let now: string | "uninitialised";
      if (shown === undefined) now = shown = identified = await readId(signal);
      else now = shown === "uninitialised" ? shown : await readId(signal);
      if (shown === "uninitialised" || now === "uninitialised")
        throw refused("restic_identity_changed", `refused: ${repo} (destination ${name}) holds no restic repository`, `if it was wiped on purpose, run \`hoard dest reset ${name} --yes\``);
      if (now !== shown)
        throw refused(
          "restic_identity_changed",
          `refused: the restic repository at ${repo} (destination ${name}) now has id ${now}, not ${shown} which hoard checked against the pinned identity: it was re-created, replaced or pointed elsewhere`,
          `if this is expected, run \`hoard dest reset ${name} --yes\` (new epoch; files must be pushed and verified again before offload)`,
        );
      return now;
    })();
    checked = p;
    p.catch(() => {
      if (checked === p) checked = undefined;
    });
    return p;
  }

  const volTag = (volume: string) => `volume:${volume}`;

  async function snapshots(volume: string, signal: AbortSignal): Promise<Snapshot[]> {
    const res = await r.run(["snapshots", "--json", "--tag", TAG], { signal, toFile: true });
    if (res.code !== 0) throw failed("restic snapshots", res);
    try {
      return parseSnapshots(res.stdout, [TAG, volTag(volume)]);
    } catch (e: any) {
      throw failure("restic_output", `restic snapshots --json (destination ${name}) printed something unexpected: ${e.message}`);
    }
  }

  /** Listings of snapshots, each asked at most once per operation. */
  function lister(root: string, signal: AbortSignal) {
    const cache = new Map<string, Promise<{ ok: true; files: Map<string, Node>; id?: string } | { ok: false; error: string }>>();
    return (snap: string) => {
      let p = cache.get(snap);
      if (!p) {
        p = (async () => {
          const c = nodeCollector(root);
          let id: string | undefined;
          const res = await r.run(["ls", "--json", snap], {
            signal,
            toFile: true,
            onLine: (l) => {
              if (id === undefined && l.includes('"struct_type":"snapshot"'))
                try {
                  id = JSON.parse(l).id;
                } catch {}
              c.line(l);
            },
          });
          if (res.code !== 0) {
            if (classify(res) === "locked" || classify(res) === "wrong_password") throw failed("restic ls", res);
            return { ok: false as const, error: `restic ls of snapshot ${snap.slice(0, 8)} failed: ${errorText(res)}` };
          }
          return { ok: true as const, files: c.files, id };
        })();
        cache.set(snap, p);
      }
      return p;
    };
  }

  /** Snapshots (newest first, the hint first) that list `e.path` as a file of the entry's size. */
  function cursor(e: ManifestEntry, snaps: Snapshot[], list: ReturnType<typeof lister>, st: State | undefined, skip?: string): Cursor {
    const hint = st?.hints.get(e.path);
    const order = snaps.map((s) => s.id);
    if (hint && hint.b3 === e.blake3 && order.includes(hint.snap)) order.splice(order.indexOf(hint.snap), 1), order.unshift(hint.snap);
    let i = 0;
    const notes: string[] = [];
    return {
      notes,
      async next() {
        while (i < order.length) {
          const snap = order[i++]!;
          if (snap === skip) continue;
          const l = await list(snap);
          if (!l.ok) {
            notes.push(l.error);
            continue;
          }
          const n = l.files.get(e.path);
          if (n && n.size === e.size) return { snap, node: n };
        }
        return undefined;
      },
    };
  }

  const short = (h: string) => h.slice(0, 12);

  /**
   * Read each found entry's bytes back and compare with its BLAKE3; an entry whose content differs
   * moves on to the next snapshot of its cursor. Calls matched() per match; returns why others failed.
   */
  async function contentRounds(ctx: HandlerContext, queue: Found[], matched: (f: Found, at: bigint) => void, root: string): Promise<Map<string, string[]>> {
    const reasons = new Map<string, string[]>();
    let round = queue;
    while (round.length > 0 && !ctx.signal.aborted) {
      const bySnap = new Map<string, Found[]>();
      for (const f of round) bySnap.set(f.snap, [...(bySnap.get(f.snap) ?? []), f]);
      const next: Found[] = [];
      for (const [snap, fs] of bySnap) {
        if (ctx.signal.aborted) break;
        ctx.progress({ phase: "restic read-back", done: 0, total: fs.length, current: snap.slice(0, 8) });
        const got = await readBack(r, snap, root, [...new Set(fs.map((f) => f.e.path))], ctx);
        for (const f of fs) {
          const res = got.get(f.e.path);
          if (!res) continue; // aborted
          if (res.ok && res.b3 === f.e.blake3) {
            matched(f, res.at);
            continue;
          }
          const why = reasons.get(f.e.path) ?? [];
          why.push(res.ok ? `content in restic snapshot ${snap.slice(0, 8)} differs from the index (BLAKE3 ${short(res.b3)}, expected ${short(f.e.blake3)})` : `reading it back from restic snapshot ${snap.slice(0, 8)} failed: ${res.error}`);
          reasons.set(f.e.path, why);
          const n = f.cursor ? await f.cursor.next() : undefined;
          if (n) next.push({ ...f, snap: n.snap, node: n.node });
        }
      }
      round = next;
    }
    return reasons;
  }

  /** `restic check` without reading data: every pack the index names is there, every blob the trees name is indexed. */
  async function structureOk(signal: AbortSignal): Promise<{ ok: true } | { ok: false; error: string }> {
    const res = await r.run(["check", "--no-lock"], { signal });
    if (res.code === 0) return { ok: true };
    if (classify(res) === "wrong_password") throw failed("restic check", res);
    return { ok: false, error: errorText(res, 3) };
  }

  async function backup(manifest: ManifestEntry[], ctx: HandlerContext, parent: string | undefined): Promise<{ snap: string; errors: Map<string, string> } | undefined> {
    const present = manifest.filter((e) => e.status === "present");
    if (present.length === 0) return undefined;
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    const root = ctx.volumeRoot.replace(/\/+$/, "");
    const list = join(stateDir, `files-from-${process.pid}-${Date.now()}`);
    writeFileSync(list, present.map((e) => `${root}/${e.path}\0`).join(""), { mode: 0o600 });
    let res;
    try {
      const total = present.length;
      res = await r.run(
        ["backup", "--json", "--files-from-raw", list, "--host", HOST, "--tag", TAG, "--tag", volTag(ctx.volume), "--tag", `run:${ctx.runId}`, ...(parent ? ["--parent", parent] : [])],
        {
          signal: ctx.signal,
          onLine: (l) => {
            if (!l.startsWith('{"message_type":"status"')) return;
            try {
              const x = JSON.parse(l);
              ctx.progress({ phase: "restic backup", done: Number(x.files_done ?? 0), total, bytes: Number(x.bytes_done ?? 0), totalBytes: Number(x.total_bytes ?? 0) });
            } catch {}
          },
        },
      );
    } finally {
      rmSync(list, { force: true });
    }
    if (ctx.signal.aborted) throw failure("aborted", `restic backup of ${ctx.volumeRoot} was interrupted; nothing is claimed`);
    const summary = parseSummary(res.stdout);
    const errors = new Map<string, string>();
    for (const x of backupErrors(res.stdout + "\n" + res.stderr)) if (x.item.startsWith(`${root}/`)) errors.set(x.item.slice(root.length + 1), r.scrub(x.error));
    if (!summary) {
      if (res.signal) throw failure("restic_backup_killed", `restic backup of ${ctx.volumeRoot} (destination ${name}) was killed by ${res.signal}; no snapshot, nothing is claimed`, `run \`hoard sync ${ctx.volume}\` again`);
      throw failed("restic backup", res);
    }
    if (res.code !== 0) ctx.warn(`${name}: restic saved snapshot ${summary.snapshotId} but could not read ${errors.size || "some"} file(s)${errors.size ? ` (${[...errors.keys()].slice(0, 3).join(", ")}${errors.size > 3 ? ", …" : ""})` : ""}; they are not claimed`);
    return { snap: summary.snapshotId, errors };
  }

  /**
   * Per-file outcomes. `current` is the snapshot this push made (present files must be in it);
   * without it (verify) present files are looked up like offloaded ones, newest snapshot first.
   * Every entry is read back into BLAKE3 unless `reuse` lets a receipt settle it.
   */
  async function check(manifest: ManifestEntry[], ctx: HandlerContext, repoId: string, snaps: Snapshot[], current: { snap: string; errors: Map<string, string> } | undefined, reuse: boolean): Promise<FileOutcome[]> {
    const signal = ctx.signal;
    const root = ctx.volumeRoot.replace(/\/+$/, "");
    const st = loadState(stateDir, ctx.volume, repoId, ctx.receiptScope);
    const list = lister(root, signal);
    const out = new Map<string, FileOutcome>();
    const fail = (e: ManifestEntry, reason: string, missing = false) => out.set(e.path, missing ? { path: e.path, ok: false, reason, missing: true } : { path: e.path, ok: false, reason });
    const found: Found[] = [];
    let cur: { id: string; files: Map<string, Node> } | undefined;
    if (current) {
      const l = await list(current.snap);
      if (!l.ok) throw failure("restic_ls_failed", `restic saved snapshot ${current.snap} but cannot list it (destination ${name}): ${l.error}`, reachHint);
      cur = { id: l.id ?? current.snap, files: l.files };
    }
    let done = 0;
    for (const e of manifest) {
      if (signal.aborted) break;
      ctx.progress({ phase: "restic listing", done: done++, total: manifest.length, current: e.path });
      if (e.status === "present" && cur) {
        const n = cur.files.get(e.path);
        if (!n) {
          const err = current!.errors.get(e.path);
          fail(e, err ? `restic could not read it, so snapshot ${cur.id.slice(0, 8)} does not hold it: ${err}` : `not in restic snapshot ${cur.id.slice(0, 8)}`, true);
        } else if (n.size !== e.size) fail(e, `restic snapshot ${cur.id.slice(0, 8)} holds a different version (size ${n.size}, indexed ${e.size}): the file changed since it was indexed (run \`hoard index ${ctx.volume}\`)`);
        else found.push({ e, snap: cur.id, node: n });
        continue;
      }
      const c = cursor(e, snaps, list, st, cur?.id);
      const f = await c.next();
      if (f) found.push({ e, snap: f.snap, node: f.node, cursor: c });
      else fail(e, `no restic snapshot of ${root} holds it with size ${e.size}${c.notes.length ? ` (${c.notes.slice(0, 3).join("; ")})` : ""}`, true);
    }

    // receipts: the same node (size, mtime) read back into this BLAKE3 under this scope, and the
    // repository's structure intact (every pack its index names is there)
    const byReceipt: Found[] = [];
    const toRead: Found[] = [];
    for (const f of found) {
      const rc = reuse && !f.e.recheck ? st.receipts.get(f.e.path) : undefined;
      if (rc && rc.b3 === f.e.blake3 && rc.size === f.node.size && rc.mtime === f.node.mtime) byReceipt.push(f);
      else toRead.push(f);
    }
    if (byReceipt.length > 0 && !signal.aborted) {
      const s = await structureOk(signal);
      const now = ctx.now();
      if (s.ok)
        for (const f of byReceipt) {
          const rc = st.receipts.get(f.e.path)!;
          out.set(f.e.path, { path: f.e.path, ok: true, method: METHOD_BLAKE3, verifiedAt: rc.at < now ? rc.at : now, unchanged: true });
          st.hints.set(f.e.path, { b3: f.e.blake3, snap: f.snap });
        }
      else {
        ctx.warn(`${name}: restic check found problems (${s.error}); the files it would have spared are read back`);
        toRead.push(...byReceipt);
      }
    }

    const reasons = await contentRounds(
      ctx,
      toRead,
      (f, at) => {
        out.set(f.e.path, { path: f.e.path, ok: true, method: METHOD_BLAKE3, verifiedAt: at });
        st.receipts.set(f.e.path, { b3: f.e.blake3, size: f.node.size, mtime: f.node.mtime, at });
        st.hints.set(f.e.path, { b3: f.e.blake3, snap: f.snap });
      },
      root,
    );
    for (const f of toRead) {
      const e = f.e;
      if (out.has(e.path)) continue;
      const why = reasons.get(e.path);
      if (!why) continue; // aborted
      st.receipts.delete(e.path);
      const changed = e.status === "present" && cur && why.length === 1 && why[0]!.startsWith("content in");
      fail(e, changed ? `${why[0]}: the file changed since it was indexed (run \`hoard index ${ctx.volume}\`)` : why.slice(0, 3).join("; "));
    }
    // keep only records of paths in this manifest
    const paths = new Set(manifest.map((e) => e.path));
    for (const k of [...st.receipts.keys()]) if (!paths.has(k)) st.receipts.delete(k);
    for (const k of [...st.hints.keys()]) if (!paths.has(k)) st.hints.delete(k);
    await saveState(api.util.writeFileAtomic, stateDir, ctx.volume, st);
    ctx.progress({ phase: "restic", done: manifest.length, total: manifest.length });
    return manifest.map((e) => out.get(e.path) ?? { path: e.path, ok: false as const, reason: signal.aborted ? "aborted" : "not verified" });
  }

  async function confirm(entries: ManifestEntry[], ctx: HandlerContext, depth: ConfirmDepth): Promise<FileOutcome[]> {
    const repoId = await ensure(ctx.signal);
    const signal = ctx.signal;
    const root = ctx.volumeRoot.replace(/\/+$/, "");
    const snaps = await snapshots(ctx.volume, signal);
    const st = loadState(stateDir, ctx.volume, repoId, ""); // hints only order the snapshots; no receipts
    const list = lister(root, signal);
    const out = new Map<string, FileOutcome>();
    const fail = (e: ManifestEntry, reason: string, missing = false) => out.set(e.path, missing ? { path: e.path, ok: false, reason, missing: true } : { path: e.path, ok: false, reason });
    const found: Found[] = [];
    for (const e of entries) {
      if (signal.aborted) break;
      const c = cursor(e, snaps, list, st);
      const f = await c.next();
      if (f) found.push({ e, snap: f.snap, node: f.node, cursor: c });
      else fail(e, `no restic snapshot of ${root} holds it with size ${e.size}${c.notes.length ? ` (${c.notes.slice(0, 3).join("; ")})` : ""}`, true);
    }
    if (depth === "presence") {
      if (found.length > 0 && !signal.aborted) {
        const s = await structureOk(signal);
        const at = ctx.now();
        for (const f of found)
          if (s.ok) out.set(f.e.path, { path: f.e.path, ok: true, method: METHOD_PRESENCE, verifiedAt: at });
          else fail(f.e, `restic snapshot ${f.snap.slice(0, 8)} lists it, but restic check found the repository damaged: ${s.error}`);
      }
    } else {
      const reasons = await contentRounds(ctx, found, (f, at) => void out.set(f.e.path, { path: f.e.path, ok: true, method: METHOD_BLAKE3, verifiedAt: at }), root);
      for (const f of found) {
        if (out.has(f.e.path)) continue;
        const why = reasons.get(f.e.path);
        if (why) fail(f.e, why.slice(0, 3).join("; "));
      }
    }
    return entries.map((e) => out.get(e.path) ?? { path: e.path, ok: false as const, reason: signal.aborted ? "aborted" : "not confirmed" });
  }

  return {
    async capabilities(): Promise<Capabilities> {
      return { methods: [METHOD_BLAKE3], warnings: [], facts: { repository: repo, binary: r.binary, host: HOST, tag: TAG } };
    },

    async init(): Promise<Identity> {
      let existing: string | "uninitialised" | undefined;
      try {
        existing = await readId();
      } catch (e: any) {
        if (e?.code === "restic_wrong_password") throw failure("restic_repo_exists", `${repo} already holds a restic repository (hoard's password does not open it); hoard only pins repositories it created`, `point destinations.${name}.repository at an empty or new location`);
        existing = undefined; // no directory yet: restic creates it
      }
      if (existing !== undefined && existing !== "uninitialised")
        throw failure("restic_repo_exists", `${repo} already holds a restic repository (id ${existing}); hoard only pins repositories it created`, `point destinations.${name}.repository at an empty or new location`);
      const res = await r.run(["init"]);
      if (res.code !== 0) throw failure("restic_init_failed", `restic init at ${repo} (destination ${name}) failed: ${errorText(res)}`, `check that ${repo} is an empty, writable location`);
      identified = await readId();
      checked = undefined;
      if (identified === "uninitialised") throw failure("restic_init_failed", `restic init at ${repo} reported success but no repository config is there`);
      return { id: identified, detail: `restic repository at ${repo}` };
    },

    async identify() {
      identified = await readId();
      checked = undefined;
      return identified === "uninitialised" ? "uninitialised" : { id: identified, detail: `restic repository at ${repo}` };
    },

    async push(manifest, ctx) {
      const repoId = await ensure(ctx.signal);
      const snaps = await snapshots(ctx.volume, ctx.signal);
      ctx.progress({ phase: "restic backup", done: 0, total: manifest.length });
      const made = await backup(manifest, ctx, snaps[0]?.id);
      return check(manifest, ctx, repoId, snaps, made, true);
    },

    async verify(manifest, ctx) {
      const repoId = await ensure(ctx.signal);
      const snaps = await snapshots(ctx.volume, ctx.signal);
      return check(manifest, ctx, repoId, snaps, undefined, false); // verify reads everything
    },

    confirm,

    async fetch(entry, targetPath, ctx) {
      const repoId = await ensure(ctx.signal);
      const root = ctx.volumeRoot.replace(/\/+$/, "");
      const snaps = await snapshots(ctx.volume, ctx.signal);
      const st = loadState(stateDir, ctx.volume, repoId, "");
      const c = cursor(entry, snaps, lister(root, ctx.signal), st);
      const notes: string[] = [];
      for (let f = await c.next(); f; f = await c.next()) {
        const fd = openSync(targetPath, "wx", 0o600);
        const h = ctx.blake3Stream();
        let res;
        try {
          res = await r.run(["dump", f.snap, `${root}/${entry.path}`], {
            signal: ctx.signal,
            onData: (b) => {
              h.update(b);
              for (let off = 0; off < b.length; ) off += writeSync(fd, b, off);
            },
          });
          if (res.code === 0) fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        if (res.code === 0 && h.digestHex() === entry.blake3) return;
        rmSync(targetPath, { force: true });
        if (ctx.signal.aborted) throw failure("aborted", `fetch of ${entry.path} from restic was interrupted`);
        notes.push(res.code === 0 ? `snapshot ${f.snap.slice(0, 8)} holds other content` : `snapshot ${f.snap.slice(0, 8)}: ${errorText(res)}`);
      }
      throw failure("restic_fetch_failed", `no restic snapshot of ${root} could give back ${entry.path} (destination ${name})${notes.length || c.notes.length ? `: ${[...notes, ...c.notes].slice(0, 3).join("; ")}` : ""}`);
    },

    ...resticCatalogs(api, r, { dest: name, stateDir, host: HOST, ensure, failed }),
  };
}
