// The batch gate and the status aggregates against their references on real SQLite (fast-check):
// random volumes, files, evidence (methods, epochs, ages), object checks and destinations (pinned or
// not, one physical place or two), then random row changes. The batch gate (one cursor, each
// distinct class decided once) must give every file exactly the refusals of the per-file gate;
// status's coverage, offloadable and content-check counts from the aggregates must equal a per-file
// recount; and the trigger-kept aggregates must equal a full recount after every change.

import { afterAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openApp, type App } from "../../src/cli/app.ts";
import { fileClasses, objectClasses, recountFileClasses, recountObjectClasses } from "../../src/kernel/aggregates.ts";
import { liveFiles, setFileStatus, touchFile } from "../../src/kernel/files.ts";
import { gatePages, scanLive } from "../../src/kernel/livescan.ts";
import { nowNs } from "../../src/kernel/runtime.ts";
import { oldestContentCheck } from "../../src/kernel/objects.ts";
import { gateBatch, gateFor } from "../../src/ops/gatecheck.ts";
import { volumeStatus } from "../../src/ops/status.ts";
import type { OffloadResult } from "../../src/ops/offload.ts";
import { offloadable, summarise } from "../../src/ops/offload-scan.ts";
import { tempDir } from "../helpers.ts";

const DAY = 86_400_000_000_000n;
const DESTS = ["a", "b", "c"];
const VOLUMES = ["v", "w"];
const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A tiny deterministic PRNG (the world is drawn from one fast-check seed). */
function rng(seed: number) {
  let s = seed >>> 0 || 1;
  const next = () => ((s = (s * 1664525 + 1013904223) >>> 0), s / 2 ** 32);
  return { epoch: () => (next() < 0.9 ? 1 : 2), int: (n: number) => Math.floor(next() * n), pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!, chance: (p: number) => next() < p };
}

interface Shape {
  seed: number;
  require: Record<string, string[]>;
  pinned: boolean[];
  sameIdentity: boolean;
  maxAge: string | null;
}

async function makeWorld(sh: Shape): Promise<App> {
  const dir = tempDir("hoard-gatebatch-");
  dirs.push(dir);
  const cfg =
    `node = "n1"\n${sh.maxAge ? `max_evidence_age = ${JSON.stringify(sh.maxAge)}\n` : ""}\n` +
    VOLUMES.map((v) => `[volumes.${v}]\npath = ${JSON.stringify(join(dir, v))}\nsync_to = ${JSON.stringify(DESTS)}\noffload_requires = ${JSON.stringify(sh.require[v])}\n`).join("\n") +
    "\n" +
    DESTS.map((d) => `[destinations.${d}]\ntype = "fs"\npath = ${JSON.stringify(join(dir, `dest-${d}`))}\n`).join("\n");
  writeFileSync(join(dir, "config.toml"), cfg);
  mkdirSync(join(dir, "data"), { recursive: true });
  return openApp({ config: join(dir, "config.toml"), db: join(dir, "data", "hoard.db") }, [], { mayCreateDb: () => true });
}

/** Random rows straight into the tables (object checks sometimes before their files, to exercise both triggers). */
function fill(app: App, sh: Shape) {
  const db = app.ctx.db;
  const r = rng(sh.seed);
  // the gates' own clock: an age of exactly max_evidence_age is then stale for every gate created after this
  // (Date.now() drops the sub-millisecond part and can sit on either side of the gates' clock)
  const now = nowNs();
  db.tx(() => {
    for (let i = 1; i <= 8; i++) db.run("INSERT INTO runs(id, kind, node, pid, started_at) VALUES (?, 'index', 'n1', 1, ?)", i, now);
    for (const v of VOLUMES) db.run("INSERT INTO volumes(name, path, created_at, updated_at) VALUES (?, ?, 0, 0)", v, `/${v}`);
    const contents: bigint[] = [];
    for (let i = 0; i < 12; i++)
      contents.push(db.run("INSERT INTO content(hash, size, origin_node, origin_run, created_at) VALUES (?, ?, ?, ?, 0)", Buffer.from(`h${sh.seed}-${i}`.padEnd(32, ".")), 10 + i, r.pick(["n1", "n2"]), 1 + r.int(4)).lastInsertRowid);
    const pins = () => DESTS.forEach((d, i) => sh.pinned[i] && db.run("INSERT INTO destinations(name, type, identity, epoch, initialized_at, updated_at) VALUES (?, 'fs', ?, ?, 0, 0)", d, sh.sameIdentity ? "same" : `id-${d}`, r.epoch()));
    const early = r.chance(0.5);
    if (early) pins();
    // the rows of each path first (the last one live unless superseded), so checks can name their content
    const plan = VOLUMES.flatMap((v) =>
      Array.from({ length: 40 }, (_, p) => {
        const n = 1 + r.int(2);
        return Array.from({ length: n }, (_, k) => ({ v, path: `p${p}`, content: r.pick(contents), status: k < n - 1 ? "superseded" : r.pick(["present", "present", "offloaded", "missing", "superseded"]), size: 1 + r.int(100), scr: 1 + r.int(3) }));
      }),
    );
    const objects = () => {
      for (const rows of plan)
        for (const d of DESTS) {
          if (!r.chance(0.7)) continue;
          const { v, path, content } = rows[rows.length - 1]!;
          const checked = r.chance(0.7);
          db.run(
            "INSERT OR REPLACE INTO dest_objects(destination, volume, path, content_id, epoch, ok, method, reason, run, checked_at, checked_run) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            d, v, path, r.chance(0.85) ? content : r.pick(contents), r.epoch(), r.chance(0.8) ? 1 : 0, r.pick(["blake3", "blake3", "size", "sha256", null, ""]), r.pick([null, "differs", ""]), 1 + r.int(8),
            checked ? now - BigInt(r.int(40)) * DAY : null, checked ? 2 + r.int(2) : null,
          );
        }
    };
    const before = r.chance(0.5);
    if (before) objects();
    for (const rows of plan)
      for (const f of rows)
        db.run(
          "INSERT INTO files(volume, path, content_id, status, size, mtime_ns, ino, first_seen_run, last_seen_run, status_changed_run) VALUES (?,?,?,?,?,0,NULL,1,1,?)",
          f.v, f.path, f.content, f.status, f.size, f.scr,
        );
    if (!before) objects();
    if (!early) pins();
    for (const v of VOLUMES)
      for (const d of DESTS)
        for (const o of ["n1", "n2"]) {
          if (!r.chance(0.85)) continue;
          const verified = r.chance(0.8) ? now - BigInt(r.int(40)) * DAY : null;
          db.run(
            "INSERT INTO evidence(volume, destination, origin_node, origin_run, method, verified_at, confirmed_run, updated_at, epoch) VALUES (?,?,?,?,?,?,?,0,?)",
            v, d, o, r.int(8), r.pick(["blake3", "blake3", "blake3", "blake3", "size", "blake3+size", "sha256", ""]), verified, r.chance(0.5) ? 1 + r.int(8) : null, r.epoch(),
          );
        }
  });
}

/** Random changes through the kernel's own writers and plain SQL: status flips, size changes, checks, deletions. */
function mutate(app: App, seed: number, steps: number) {
  const db = app.ctx.db;
  const r = rng(seed ^ 0x5bd1e995);
  for (let i = 0; i < steps; i++) {
    const rows = db.all<{ id: bigint; status: string; volume: string; path: string; content_id: bigint }>("SELECT id, status, volume, path, content_id FROM files ORDER BY id");
    const f = r.pick(rows);
    db.tx(() => {
      switch (r.int(7)) {
        case 6: {
          // one field of one check at a time (each must move the object's class on its own)
          const col = r.pick(["epoch = 3 - epoch", "ok = 1 - ok", "method = CASE WHEN method IS NULL THEN 'blake3' ELSE NULL END", "checked_run = CASE WHEN checked_run IS NULL THEN 2 ELSE NULL END", "checked_at = CASE WHEN checked_at IS NULL THEN 5 ELSE NULL END", "reason = 'other'"]);
          db.run(`UPDATE dest_objects SET ${col} WHERE (destination, volume, path, content_id) IN (SELECT destination, volume, path, content_id FROM dest_objects ORDER BY random() LIMIT 1)`);
          break;
        }
        case 0:
          if (f.status !== "superseded") setFileStatus(db, f.id, f.status as "present", r.pick(["present", "offloaded", "missing"]), BigInt(1 + r.int(8)));
          break;
        case 1:
          touchFile(db, f.id, { size: 1 + r.int(100), mtimeNs: 1n, ino: null, run: 8n });
          break;
        case 2:
          db.run(
            `INSERT INTO dest_objects(destination, volume, path, content_id, epoch, ok, method, reason, run, checked_at, checked_run) VALUES (?,?,?,?,?,?,?,NULL,1,?,?)
             ON CONFLICT DO UPDATE SET epoch = excluded.epoch, ok = excluded.ok, method = excluded.method, checked_at = excluded.checked_at, checked_run = excluded.checked_run`,
            r.pick(DESTS), f.volume, f.path, f.content_id, 1 + r.int(2), r.int(2), r.pick(["blake3", "size", null]), r.chance(0.5) ? 5n : null, r.chance(0.5) ? BigInt(1 + r.int(8)) : null,
          );
          break;
        case 3:
          db.run("DELETE FROM dest_objects WHERE (destination, volume, path, content_id) IN (SELECT destination, volume, path, content_id FROM dest_objects ORDER BY random() LIMIT 1)");
          break;
        case 4:
          db.run("DELETE FROM files WHERE id = ?", f.id);
          break;
        default:
          if (f.status !== "superseded") db.run("UPDATE files SET status = 'superseded', status_changed_run = 8 WHERE id = ?", f.id);
      }
    });
  }
}

function expectAggregatesTrue(app: App) {
  for (const v of VOLUMES) {
    expect(fileClasses(app.ctx.db, v)).toEqual(recountFileClasses(app.ctx.db, v));
    for (const d of DESTS) expect(objectClasses(app.ctx.db, v, d)).toEqual(recountObjectClasses(app.ctx.db, v, d));
  }
}

/** The per-file reference of status: every live row through gateFor. */
async function referenceStatus(app: App, v: string) {
  const ctx = app.ctx;
  const live = liveFiles(ctx.db, v).filter((f) => f.status !== "missing");
  const out: Record<string, { covered: number; of: number; unchecked: number | null; oldest: bigint | null }> = {};
  for (const d of DESTS) {
    const g = await gateFor(ctx, v, [d]);
    const covered = live.filter((f) => g.decide(f).every((x) => x.code === "not_confirmed" || x.code === "policy")).length;
    const pin = ctx.db.get<{ epoch: bigint }>("SELECT epoch FROM destinations WHERE name = ?", d);
    const o = pin ? oldestContentCheck(ctx.db, v, d, pin.epoch) : null;
    out[d] = { covered, of: live.length, unchecked: o ? o.unchecked : null, oldest: o ? o.oldest : null };
  }
  let offloadable = { files: 0, bytes: 0 };
  const req = ctx.config.volumes[v]!.offload_requires;
  if (req.length) {
    const g = await gateFor(ctx, v);
    for (const f of live) if (f.status === "present" && g.decide(f).length === 0) (offloadable.files++, (offloadable.bytes += Number(f.size)));
  }
  return { out, offloadable };
}

const emptyResult = (volume: string): OffloadResult => ({
  run_id: null, volume, dry_run: true, confirm: null, status: "dry-run", offloaded: [], refusals: [], problems: [], destinations: [], unmatched: [],
  counts: { selected: 0, offloadable: 0, offloadable_bytes: 0, offloaded: 0, offloaded_bytes: 0, refused: 0, unconfirmed: 0, drift: 0, errors: 0 },
});

async function expectSameDecisions(app: App) {
  const ctx = app.ctx;
  for (const v of VOLUMES) {
    for (const req of [ctx.config.volumes[v]!.offload_requires, ...DESTS.map((d) => [d]), DESTS]) {
      const ref = await gateFor(ctx, v, req);
      const batch = await gateBatch(ctx, v, req);
      const rows = [...scanLive(ctx.db, v, ["present", "offloaded", "missing"], req)];
      expect(rows.map((r) => r.file.path)).toEqual(liveFiles(ctx.db, v).map((f) => f.path));
      for (const row of rows) expect({ path: row.file.path, refusals: batch.decideScanned(row) }).toEqual({ path: row.file.path, refusals: ref.decide(row.file) });
      // the paged form offload reads (small pages: every page boundary is crossed), each row decided by decideRow
      const paged = await gateBatch(ctx, v, req);
      const pages = [...gatePages(ctx.db, v, ["present", "offloaded", "missing"], req, { page: 3, withHash: true })].flat();
      expect(pages.map((r) => r.path)).toEqual(rows.map((r) => r.file.path));
      for (const row of pages) expect({ path: row.path, refusals: paged.decideRow(row) }).toEqual({ path: row.path, refusals: ref.decide(row) });
      // a range of rows (what one literal selector reads): exactly the rows from its start up to below its end
      const top = pages[Math.floor(pages.length / 2)]?.path.split("/")[0];
      if (top !== undefined) {
        const ranged = [...gatePages(ctx.db, v, ["present", "offloaded", "missing"], req, { page: 2, range: { from: top, below: `${top}0` } })].flat();
        expect(ranged.map((r) => r.path)).toEqual(pages.map((r) => r.path).filter((p) => p >= top && p < `${top}0`));
      }
      // a dry run's summary by class (the rows read only for examples and the first files) equals the scan's
      const scanned = emptyResult(v);
      const passed: { path: string; size: number }[] = [];
      for await (const batch of offloadable(ctx, { volume: v, selectors: ["."], required: req, size: 7, withHash: false }, scanned)) for (const f of batch) passed.push({ path: f.path, size: Number(f.size) });
      const summed = emptyResult(v);
      const listed: { path: string; size: number }[] = [];
      await summarise(ctx, { volume: v, required: req, list: 3 }, summed, (f) => listed.push(f));
      expect(summed).toEqual(scanned);
      expect(listed).toEqual(passed.slice(0, 3));
    }
    const s = await volumeStatus(ctx, v);
    const ref = await referenceStatus(app, v);
    expect(s.offloadable).toEqual(ref.offloadable);
    for (const d of s.destinations) {
      const r = ref.out[d.name]!;
      expect({ d: d.name, covered: d.coverage.files, of: d.coverage.of, unchecked: d.never_content_checked }).toEqual({ d: d.name, covered: r.covered, of: r.of, unchecked: r.unchecked });
      expect(d.oldest_content_check_s === null).toBe(r.oldest === null);
    }
  }
}

const shape = fc.record({
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  require: fc.record({ v: fc.subarray(DESTS), w: fc.subarray(DESTS) }),
  pinned: fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
  sameIdentity: fc.boolean(),
  maxAge: fc.constantFrom(null, "1d", "30d"),
});

describe("batch gate and status aggregates against the per-file references", () => {
  test("random worlds: same refusals per file, same status counts, aggregates equal a recount", async () => {
    await fc.assert(
      fc.asyncProperty(shape, async (sh) => {
        const app = await makeWorld(sh);
        try {
          fill(app, sh);
          expectAggregatesTrue(app);
          await expectSameDecisions(app);
          mutate(app, sh.seed, 40);
          expectAggregatesTrue(app);
          await expectSameDecisions(app);
        } finally {
          app.close();
        }
      }),
      { numRuns: 40 },
    );
  }, 240_000);

  test("the migration fills the aggregates from rows written before it", async () => {
    const sh: Shape = { seed: 7, require: { v: ["a"], w: ["a", "b"] }, pinned: [true, true, false], sameIdentity: false, maxAge: null };
    const app = await makeWorld(sh);
    try {
      fill(app, sh);
      const db = app.ctx.db;
      const want = VOLUMES.map((v) => [fileClasses(db, v), DESTS.map((d) => objectClasses(db, v, d))]);
      // drop the aggregates and re-run migration 5 over the same rows
      db.exec("DROP TABLE file_classes; DROP TABLE object_classes; DROP INDEX dest_objects_checked; DROP INDEX dest_objects_failed");
      for (const t of ["files_classes_i", "files_classes_d", "files_classes_u", "dest_objects_classes_i", "dest_objects_classes_d", "dest_objects_classes_u", "destinations_classes_i", "destinations_classes_d", "destinations_classes_u"]) db.exec(`DROP TRIGGER ${t}`);
      const { MIGRATIONS } = await import("../../src/kernel/migrations.ts");
      db.tx(() => db.exec(MIGRATIONS[4]!));
      expect(VOLUMES.map((v) => [fileClasses(db, v), DESTS.map((d) => objectClasses(db, v, d))])).toEqual(want);
      expect(want.flat(2).length).toBeGreaterThan(0);
    } finally {
      app.close();
    }
  });
});
