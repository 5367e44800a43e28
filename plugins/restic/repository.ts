// One restic repository as a destination sees it: its identity (the repository id from `cat config`),
// errors with restic's own advice, snapshots and listings of a volume, `check`, and tagged backups.

import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { HandlerContext, ManifestEntry, OpenContext, PluginApi } from "hoard/plugin";
import { classify, errorText, Restic } from "./exec.ts";
import { backupErrors, nodeCollector, parseSnapshots, parseSummary, type Node, type Snapshot } from "./listing.ts";

export interface ResticConfig {
  repository: string;
  password: string;
  binary?: string;
}

/** Every snapshot hoard makes carries this tag, plus `volume:<name>` and `run:<id>`. */
export const TAG = "hoard";
/** restic's host field for hoard's snapshots: fixed, so snapshots do not depend on the machine's name. */
export const HOST = "hoard";

/** A local repository path (not `sftp:` / `rclone:`): its directory can be looked at directly. */
export const isLocal = (repo: string) => repo.startsWith("/");

export type ResticRepository = ReturnType<typeof resticRepository>;
export type Lister = ReturnType<ResticRepository["lister"]>;

/** The repository of a restic destination (its config's `repository`). */
export function resticRepository(api: PluginApi, o: ResticConfig, octx: OpenContext) {
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

  /** init(): create the repository (only where none is) and return its id. */
  async function create(): Promise<string> {
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
    return identified;
  }

  /** identify(): the repository id now ("uninitialised" where provably none is), remembered for ensure(). */
  async function identify(): Promise<string | "uninitialised"> {
    identified = await readId();
    checked = undefined;
    return identified;
  }

  return { r, name, repo, stateDir, reachHint, failed, identify, create, ensure, snapshots, lister, structureOk, backup };
}
