// `hoard recover --from DEST`: rebuild a lost (or a second machine's) database from the signed catalogs
// a destination holds: pin it as found, pick each volume's newest valid trusted catalog, rebuild rows.
//
// What it writes: the destination pin (an "adopted" init event, through destInit), the volume's path row
// and marker (a missing directory is created: a second machine), one content row per catalog digest and
// one file row per catalog row: `present` when the file on disk has the catalog's BLAKE3, `offloaded`
// when it is absent. A different file on disk is left alone and reported: a row the catalog marks
// `present` is not created (the next `hoard index` records the local file as new, as it would have
// superseded the old version); a row the catalog marks `offloaded` is created `offloaded` (its bytes live
// only at the destination; index reports the path as an offloaded path with a file, and restore keeps the
// local file aside under .hoard/restore-history, never replacing it). No evidence is rebuilt: a catalog
// is a claim, not a check. Unless --no-verify, recover then runs `hoard verify DEST VOLUME`, whose real
// content checks are what make the rows restorable and offloadable again.

import { closeSync, constants, fstatSync, lstatSync, mkdirSync, type BigIntStats } from "node:fs";
import { refused, usageError, failure, HoardError } from "../kernel/errors.ts";
import { pinned } from "../kernel/dest-identity.ts";
import { ensureContent, insertFile } from "../kernel/files.ts";
import { getVolume, readMarker, recordVolume, writeMarker, VOLUME_MARKER } from "../kernel/volumes.ts";
import { hashFileFromHandle } from "../kernel/hash.ts";
import { AnchorError, openRoot, splitRel, type Dir } from "../kernel/anchored.ts";
import { RUN_KINDS, type RunKind } from "../kernel/conflict.ts";
import type { CatalogRow } from "../kernel/catalog.ts";
import { nodeKey } from "../kernel/keys.ts";
import { assertTreesDisjoint } from "../config/trees.ts";
import { normFpr, pickCatalog } from "./recover-catalog.ts";
import { withRun, type OpContext } from "./context.ts";
import { openDestination } from "./dest-open.ts";
import { destInit } from "./dest-admin.ts";
import { checkVolume, volumesFor } from "./sync.ts";

/** The run kind of a volume's rebuild: "recover" once the run kinds know it, else "index" (it holds the whole volume the same way). */
const RECOVER_KIND = ((RUN_KINDS as readonly string[]).includes("recover") ? "recover" : "index") as RunKind;

export interface RecoverOptions {
  from: string;
  volumes?: string[];
  /** Fingerprints (`hoard:…`) of catalog signers to trust for this run. */
  trust?: string[];
  /** Run `verify DEST VOLUME` after the rebuild (default true). */
  verify?: boolean;
}

export interface RefusedCatalog {
  name: string;
  code: string;
  reason: string;
  fingerprint: string | null;
}

export interface RecoverConflict {
  path: string;
  reason: string;
  catalog_status: "present" | "offloaded";
  /** The row recover created for it: none (present in the catalog) or offloaded. */
  row: "none" | "offloaded";
}

export interface RecoverVolume {
  volume: string;
  path: string;
  status: "recovered" | "no_catalog";
  run_id: bigint | null;
  catalog: { name: string; node: string; destination: string; created_at: bigint; run_id: bigint; hoard_version: string; rows: number; fingerprint: string; signer: string } | null;
  refused_catalogs: RefusedCatalog[];
  rows: { present: number; offloaded: number; conflicts: number };
  conflicts: RecoverConflict[];
  actions: string[];
  verify: { run_id: bigint | null; status: string; verified: number; failed: number; alarms: number; error?: string } | null;
}

export interface RecoverResult {
  destination: string;
  type: string;
  identity: string;
  epoch: bigint;
  pin: "adopted" | "already pinned";
  status: "success" | "partial";
  volumes: RecoverVolume[];
}

const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));
/** What is on disk at a catalog path: absent, the catalog's content (with its stat), or something else. */
async function probe(top: Dir, r: CatalogRow): Promise<{ kind: "absent" } | { kind: "same"; st: BigIntStats } | { kind: "other"; reason: string }> {
  const { parents, name } = splitRel(r.path);
  let dir: Dir;
  try {
    dir = top.openDir(parents);
  } catch (e) {
    if (e instanceof AnchorError && e.kind === "missing") return { kind: "absent" };
    if (e instanceof AnchorError) return { kind: "other", reason: `a parent directory cannot be used (${e.message})` };
    throw e;
  }
  try {
    const st = dir.stat(name);
    if (!st) return { kind: "absent" };
    if (!st.isFile()) return { kind: "other", reason: st.isSymbolicLink() ? "a symbolic link is there" : st.isDirectory() ? "a directory is there" : "not a regular file" };
    if (Number(st.size) !== r.size) return { kind: "other", reason: `a different file is there (${st.size} bytes, the catalog says ${r.size})` };
    const fd = dir.openFile(name, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    try {
      const fst = fstatSync(fd, { bigint: true });
      const hh = await hashFileFromHandle(fd);
      if (hh.changed) return { kind: "other", reason: "the file changed while it was read" };
      if (hh.blake3 !== r.blake3) return { kind: "other", reason: `a different file is there (BLAKE3 ${hh.blake3.slice(0, 16)}…, the catalog says ${r.blake3.slice(0, 16)}…)` };
      return { kind: "same", st: fst };
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    if (e instanceof AnchorError) return { kind: "other", reason: e.message };
    return { kind: "other", reason: `cannot read it: ${errText(e)}` };
  } finally {
    dir.close();
  }
}

export async function recover(ctx: OpContext, opts: RecoverOptions): Promise<RecoverResult> {
  const from = opts.from;
  const dc = ctx.config.destinations[from];
  if (!dc) throw usageError("unknown_destination", `unknown destination ${from}`, `declare [destinations.${from}] in the config (known: ${Object.keys(ctx.config.destinations).join(", ") || "none"})`);
  const vols = opts.volumes?.length ? [...new Set(opts.volumes)] : volumesFor(ctx, from);
  if (!vols.length) throw usageError("nothing_to_recover", `no volume lists destination ${from} in sync_to or offload_requires`, `declare the volumes in the config with sync_to = ["${from}"], or name one with --volume`);
  for (const v of vols) {
    const vc = ctx.config.volumes[v];
    if (!vc) throw usageError("unknown_volume", `unknown volume ${v}: it is not declared in the config`, `declare [volumes.${v}] with its path and sync_to = ["${from}"]`);
    if (!vc.sync_to.includes(from) && !vc.offload_requires.includes(from))
      throw usageError("volume_not_at_destination", `volume ${v} does not list ${from} in sync_to or offload_requires`, `add "${from}" to volumes.${v}.sync_to, so that restore and sync use it`);
  }
  assertTreesDisjoint(ctx.config);
  const d = openDestination(ctx, from);
  if (!d.handler.listCatalogs || !d.handler.getCatalog)
    throw refused("dest_no_catalogs", `refused: ${dc.type} destination ${from} keeps no catalogs, so there is nothing to recover from`, "recover from a destination whose type keeps catalogs (fs, rclone, restic, kopia)");

  // 1. what the destination is, and that this database does not pin something else under its name
  let shows;
  try {
    shows = await d.handler.identify();
  } catch (e) {
    throw failure("dest_unreachable", `destination ${from}: cannot read its identity: ${errText(e)}`, "check that the destination is reachable and mounted");
  }
  if (shows === "uninitialised") throw refused("dest_nothing_to_recover", `refused: destination ${from} shows no hoard identity: it was never initialised, or it is not mounted`, `check destinations.${from} in the config (is the disk mounted?)`);
  const cur = pinned(ctx.db, from);
  if (cur && cur.identity !== shows.id)
    throw refused("dest_pinned_other", `refused: this database pins destination ${from} to identity ${cur.identity}, but it shows ${shows.id}`, `point destinations.${from} at the place this database knows, or run \`hoard dest reset ${from} --yes\` if it really was replaced`, { pinned: cur.identity, shown: shows.id });

  // 2. every volume must be empty in this database, and its directory usable (checked before anything is written)
  for (const v of vols) {
    const n = Number(ctx.db.get<{ n: bigint }>("SELECT count(*) AS n FROM files WHERE volume = ? AND status <> 'superseded'", v)!.n);
    if (n > 0) throw refused("recover_volume_not_empty", `refused: this database already holds ${n} file rows of volume ${v}; recover only rebuilds a volume this database knows nothing about`, `to bring files back use \`hoard restore ${v}\`; to rebuild from scratch, use a new database (--db)`, { volume: v });
    const path = ctx.config.volumes[v]!.path;
    const row = getVolume(ctx.db, v);
    if (row && row.path !== path) throw refused("volume_path_mismatch", `refused: the database recorded volume ${v} at ${row.path}, the config says ${path}`, `fix volumes.${v}.path, or run \`hoard volume add ${v} ${path} --relocate\` first`);
    let st;
    try {
      st = lstatSync(path);
    } catch {
      st = undefined;
    }
    if (st && !st.isDirectory()) throw refused("volume_not_dir", `refused: ${path} (volume ${v}) exists and is not a directory`, `fix volumes.${v}.path in the config`);
    const m = st ? readMarker(path) : undefined;
    if (m === "unreadable") throw refused("volume_marker_unreadable", `refused: ${path}/${VOLUME_MARKER} cannot be read`, "inspect or remove it");
    if (m && m.volume !== v) throw refused("volume_marker_other", `refused: ${path} is volume ${m.volume}, not ${v}`, `check volumes.${v}.path in the config`);
  }

  // 3. each volume's newest valid, trusted catalog (read only)
  const mine = nodeKey(ctx.dataDir).publicKey.toLowerCase();
  const trust = new Set((opts.trust ?? []).map(normFpr));
  const picks = new Map<string, Awaited<ReturnType<typeof pickCatalog>>>();
  for (const v of vols) picks.set(v, await pickCatalog(ctx, from, v, trust, mine));
  if (![...picks.values()].some((p) => p.chosen)) {
    const detail = vols.map((v) => ({ volume: v, refused_catalogs: picks.get(v)!.refusedCats }));
    const untrusted = detail.flatMap((x) => x.refused_catalogs).find((c) => c.code === "untrusted_signer");
    throw refused(
      "recover_no_catalog",
      `refused: destination ${from} holds no valid, trusted catalog of ${vols.join(", ")}${detail.some((x) => x.refused_catalogs.length) ? `:\n${detail.flatMap((x) => x.refused_catalogs.map((c) => `  ${x.volume}/${c.name}: ${c.reason}`)).join("\n")}` : " (none at all)"}`,
      untrusted ? `if the signer is one of your machines, pass --trust ${untrusted.fingerprint} (or add its public key under [nodes.NAME] in the config)` : "catalogs are written by `hoard sync` and `hoard verify`; without one, adopt the destination (`hoard dest adopt`) and sync again from a machine that still has the files",
      { destination: from, volumes: detail },
    );
  }

  // 4. pin the destination as found
  let pin: RecoverResult["pin"] = "already pinned";
  let identity = cur?.identity ?? shows.id;
  let epoch = cur?.epoch ?? 1n;
  if (!cur) {
    const r = await destInit(ctx, from, { adopt: true });
    if (r.identity !== shows.id) throw refused("dest_identity_changed", `refused: destination ${from} changed its identity while recover ran (${shows.id} → ${r.identity})`, "run recover again when it is quiet");
    pin = "adopted";
    identity = r.identity;
    epoch = BigInt(r.epoch);
  }

  // 5. rebuild each volume
  const out: RecoverVolume[] = [];
  for (const v of vols) {
    const path = ctx.config.volumes[v]!.path;
    const { refusedCats, chosen } = picks.get(v)!;
    const res: RecoverVolume = { volume: v, path, status: "no_catalog", run_id: null, catalog: null, refused_catalogs: refusedCats, rows: { present: 0, offloaded: 0, conflicts: 0 }, conflicts: [], actions: [], verify: null };
    out.push(res);
    if (!chosen) continue;
    const c = chosen.catalog;
    res.catalog = { name: chosen.name, node: c.node, destination: c.destination, created_at: c.createdAt, run_id: c.runId, hoard_version: c.hoardVersion, rows: c.rows.length, fingerprint: chosen.fingerprint, signer: chosen.signer };
    const prepare = () => {
      let isDir = false;
      try {
        isDir = lstatSync(path).isDirectory();
      } catch {}
      if (!isDir) {
        mkdirSync(path, { recursive: true });
        res.actions.push(`created ${path}`);
      }
      const m = readMarker(path);
      if (m === "unreadable" || (m && m.volume !== v)) throw refused("volume_marker_other", `refused: ${path}/${VOLUME_MARKER} changed while recover ran`, "inspect it and run recover again");
      if (!m) {
        writeMarker(path, v);
        res.actions.push(`wrote ${path}/${VOLUME_MARKER}`);
      }
    };
    const run = await withRun(ctx, { kind: RECOVER_KIND, volume: v, destination: from }, prepare, async (run) => {
      res.run_id = run.id;
      const top = openRoot(path);
      const found: { r: CatalogRow; p: Awaited<ReturnType<typeof probe>> }[] = [];
      try {
        for (const r of c.rows) {
          found.push({ r, p: await probe(top, r) });
          ctx.progress({ phase: "recover", done: found.length, total: c.rows.length, current: r.path });
        }
      } finally {
        top.close();
      }
      ctx.db.tx(() => {
        const n = Number(ctx.db.get<{ n: bigint }>("SELECT count(*) AS n FROM files WHERE volume = ? AND status <> 'superseded'", v)!.n);
        if (n > 0) throw refused("recover_volume_not_empty", `refused: volume ${v} gained file rows while recover ran`, "run recover again when it is quiet");
        const row = getVolume(ctx.db, v);
        if (!row) {
          recordVolume(ctx.db, v, path);
          res.actions.push("recorded the volume in the database");
        }
        for (const { r, p } of found) {
          const content = ensureContent(ctx.db, r.blake3, r.size, ctx.node, run.id);
          if (p.kind === "same") {
            insertFile(ctx.db, { volume: v, path: r.path, contentId: content.id, size: Number(p.st.size), mtimeNs: p.st.mtimeNs, ino: p.st.ino, run: run.id });
            res.rows.present++;
            continue;
          }
          if (p.kind === "other") {
            res.conflicts.push({ path: r.path, reason: p.reason, catalog_status: r.status, row: r.status === "offloaded" ? "offloaded" : "none" });
            res.rows.conflicts++;
            if (r.status === "present") continue; // the local file is the newer version: index records it
          }
          ctx.db.run(
            "INSERT INTO files(volume, path, content_id, status, size, mtime_ns, ino, first_seen_run, last_seen_run, status_changed_run) VALUES (?,?,?,'offloaded',?,?,NULL,?,?,?)",
            v, r.path, content.id, r.size, r.mtimeNs, run.id, run.id, run.id,
          );
          res.rows.offloaded++;
        }
        ctx.db.run("UPDATE runs SET note = ? WHERE id = ?", `recover from ${from}: catalog ${chosen.name} (node ${c.node}, ${chosen.fingerprint}, trusted as ${chosen.signer})`, run.id);
      });
      res.status = "recovered";
      return { status: "success", counts: { ...res.rows, catalog_rows: c.rows.length }, result: undefined };
    });
    void run;
    for (const k of res.conflicts) ctx.log.warn(`${v}/${k.path}: ${k.reason}; left alone${k.row === "offloaded" ? " (its row is offloaded: restore keeps your file aside)" : " (the next index records it)"}`);
    if (opts.verify !== false) {
      try {
        const r = await checkVolume(ctx, "verify", v, from);
        res.verify = { run_id: r.run_id, status: r.status, verified: r.counts.verified, failed: r.counts.failed, alarms: r.alarms.length };
      } catch (e) {
        res.verify = { run_id: null, status: e instanceof HoardError && e.kind === "refused" ? "refused" : "failed", verified: 0, failed: 0, alarms: 0, error: errText(e) };
      }
    }
  }
  const ok = out.every((r) => r.status === "recovered" && (r.verify === null || r.verify.status === "success"));
  return { destination: from, type: dc.type, identity, epoch, pin, status: ok ? "success" : "partial", volumes: out };
}
