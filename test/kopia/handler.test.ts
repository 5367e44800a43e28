// Handler-level tests of the kopia destination (the double, or a real kopia with KOPIA_BIN): every
// object content-checked by read-back, scoped receipts, and confirm at both depths.

import { afterAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FileOutcome, ManifestEntry } from "../../src/kernel/plugin.ts";
import { nowNs } from "../../src/kernel/runtime.ts";
import { ROOT } from "../helpers.ts";
import { DOUBLE_DIR, REAL } from "./harness.ts";
import { cleanup, outcomes, unit, type Unit } from "./unit.ts";

afterAll(cleanup);
const SLOW = 120_000;
const doubleOnly = test.skipIf(REAL);
const T0 = 1_700_000_000.1; // whole second 1700000000

const ok = (o: FileOutcome | undefined) => (o?.ok ? o : (expect(o).toMatchObject({ ok: true }) as never));
const reasonOf = (o: FileOutcome | undefined) => (o && !o.ok ? o.reason : `not a failure: ${JSON.stringify(o, (_, x) => (typeof x === "bigint" ? String(x) : x))}`);
const reads = (u: Unit) => u.log().filter((a) => a[0] === "restore" || a[0] === "show").length;

/** Run the kopia binary the handler uses, on its own config (tests only: deleting snapshots). */
function kopia(u: Unit, args: string[]): string {
  const bin = process.env.KOPIA_BIN ?? join(DOUBLE_DIR, "kopia");
  const r = spawnSync(bin, [...args, "--config-file", join(u.stateDir, "repository.config"), "--no-persist-credentials"], { env: { ...process.env, PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH}`, KOPIA_PASSWORD: "unit-pw", KOPIA_DOUBLE_LOG: "" }, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`kopia ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

describe.concurrent("push: content checks", () => {
  test(
    "case 5: a file changed in place (same size, same mtime second) and snapshotted is not verified for the indexed BLAKE3, however many objects are new",
    async () => {
      const u = await unit();
      u.write("z.txt", "version A\n", T0);
      u.write("a.txt", "alpha\n");
      const z = u.entry("z.txt");
      const a = u.entry("a.txt");
      const p1 = await outcomes(u.handler.push([a, z], u.ctx()));
      expect(ok(p1.get("z.txt")).method).toBe("blake3");

      // 20 new objects (more than any read-back budget), then z.txt rewritten in place, same second
      const fresh: ManifestEntry[] = [];
      for (let i = 0; i < 20; i++) {
        u.write(`n${String(i).padStart(2, "0")}.txt`, `new file ${i}\n`);
        fresh.push(u.entry(`n${String(i).padStart(2, "0")}.txt`));
      }
      u.write("z.txt", "version B\n", T0 + 0.5);
      const p2 = await outcomes(u.handler.push([a, ...fresh, z], u.ctx()));
      const bad = p2.get("z.txt");
      expect(bad?.ok).toBe(false);
      expect(reasonOf(bad)).toContain("differs from the index");
      expect(reasonOf(bad)).toContain("changed since it was indexed");
      for (const f of fresh) expect({ p: f.path, ...ok(p2.get(f.path)), verifiedAt: 0n }).toEqual({ p: f.path, path: f.path, ok: true, method: "blake3", verifiedAt: 0n });
      expect(ok(p2.get("a.txt")).unchanged).toBe(true); // its object is the one read back before

      // verify looks for the indexed content in every snapshot: the first one still holds version A
      const v = await outcomes(u.handler.verify([z], u.ctx()));
      expect(ok(v.get("z.txt"))).toMatchObject({ method: "blake3" });
      expect(ok(v.get("z.txt")).unchanged).toBeUndefined();
      // and fetch gives version A back, from that snapshot
      const target = join(u.dir, "fetched");
      await u.handler.fetch(z, target, u.ctx());
      expect(readFileSync(target, "utf8")).toBe("version A\n");
    },
    SLOW,
  );

  doubleOnly(
    "one unreadable object in a batch fails alone; the others are checked in the same run",
    async () => {
      const u = await unit(1);
      u.write("a.txt", "alpha\n");
      u.write("b.txt", "bravo\n");
      u.write("c.txt", "charlie\n");
      const m = ["a.txt", "b.txt", "c.txt"].map((p) => u.entry(p));
      await outcomes(u.handler.push(m, u.ctx()));
      // the double stores data blobs as raw bytes: flip b.txt's
      const blob = u.dataBlobs().find((p) => readFileSync(p, "utf8") === "bravo\n")!;
      writeFileSync(blob, "BRAVO\n");
      const v = await outcomes(u.handler.verify(m, u.ctx()));
      expect(ok(v.get("a.txt")).method).toBe("blake3");
      expect(ok(v.get("c.txt")).method).toBe("blake3");
      expect(reasonOf(v.get("b.txt"))).toContain("reading it back");
      expect(reasonOf(v.get("b.txt"))).toContain("invalid checksum");
      const restores = u.log().filter((a) => a[0] === "restore");
      expect(restores.at(-1)!.filter((x) => x.endsWith(".kopia-entry")).length).toBe(3); // one batch for all three
    },
    SLOW,
  );
});

describe.concurrent("receipts", () => {
  test(
    "accepted under the same scope (unchanged, at the check's time, capped at now), never for recheck entries or by verify, ignored under another scope",
    async () => {
      const u = await unit(1);
      u.write("a.txt", "alpha\n");
      u.write("b.txt", "bravo\n");
      const m = [u.entry("a.txt"), u.entry("b.txt")];
      const p1 = await outcomes(u.handler.push(m, u.ctx({ receiptScope: "s1" })));
      const t1 = ok(p1.get("a.txt")).verifiedAt;
      expect(ok(p1.get("a.txt")).unchanged).toBeUndefined();

      const before = reads(u);
      const p2 = await outcomes(u.handler.push(m, u.ctx({ receiptScope: "s1" })));
      expect(ok(p2.get("a.txt"))).toMatchObject({ method: "blake3", unchanged: true, verifiedAt: t1 });
      expect(ok(p2.get("b.txt")).unchanged).toBe(true);
      if (!REAL) expect(reads(u)).toBe(before); // nothing read back

      // a recheck entry is content-checked now
      const p3 = await outcomes(u.handler.push([{ ...m[0]!, recheck: true }, m[1]!], u.ctx({ receiptScope: "s1" })));
      expect(ok(p3.get("a.txt")).unchanged).toBeUndefined();
      expect(ok(p3.get("a.txt")).verifiedAt).toBeGreaterThan(t1);
      expect(ok(p3.get("b.txt")).unchanged).toBe(true);

      // verify never settles anything on a receipt
      const v = await outcomes(u.handler.verify(m, u.ctx({ receiptScope: "s1" })));
      for (const p of ["a.txt", "b.txt"]) expect(ok(v.get(p)).unchanged).toBeUndefined();

      // another scope (a rewind, a reset, another DB): the receipts are ignored, then replaced
      const p4 = await outcomes(u.handler.push(m, u.ctx({ receiptScope: "s2" })));
      for (const p of ["a.txt", "b.txt"]) expect(ok(p4.get(p)).unchanged).toBeUndefined();
      const p5 = await outcomes(u.handler.push(m, u.ctx({ receiptScope: "s1" })));
      for (const p of ["a.txt", "b.txt"]) expect(ok(p5.get(p)).unchanged).toBeUndefined();
      // a context without a scope gets no receipts at all
      const p6 = await outcomes(u.handler.push(m, { ...u.ctx(), receiptScope: undefined as unknown as string }));
      for (const p of ["a.txt", "b.txt"]) expect(ok(p6.get(p)).unchanged).toBeUndefined();

      // a receipt's time is capped at now
      await outcomes(u.handler.push(m, u.ctx({ receiptScope: "s1" })));
      const file = join(u.stateDir, "catalog-photos.json");
      const cat = JSON.parse(readFileSync(file, "utf8"));
      expect(cat.scope).toBe("s1");
      for (const r of Object.values<any>(cat.receipts)) r.at = String(BigInt(Date.now() + 3_600_000) * 1_000_000n);
      writeFileSync(file, JSON.stringify(cat));
      const p7 = await outcomes(u.handler.push(m, u.ctx({ receiptScope: "s1" })));
      const after = nowNs(); // the handler's own clock (Date.now() drops the sub-millisecond part)
      expect(ok(p7.get("a.txt")).unchanged).toBe(true);
      expect(ok(p7.get("a.txt")).verifiedAt).toBeLessThanOrEqual(after);
    },
    SLOW,
  );

  test(
    "a receipt needs its blobs: a snapshot whose verify fails has its receipted objects read back",
    async () => {
      const u = await unit(1);
      u.write("a.txt", "alpha\n");
      const m = [u.entry("a.txt")];
      await outcomes(u.handler.push(m, u.ctx()));
      for (const b of u.dataBlobs()) rmSync(b);
      const before = u.log().length;
      const p = await outcomes(u.handler.push(m, u.ctx()));
      // read back (not settled by its receipt), found lost, uploaded again by kopia and read back again
      expect(ok(p.get("a.txt")).unchanged).toBeUndefined();
      const argv = u.log().slice(before);
      expect(argv.filter((a) => a[0] === "restore" || a[0] === "show").length).toBeGreaterThanOrEqual(2);
      expect(argv.some((a) => a[0] === "content" && a[1] === "delete")).toBe(true);
    },
    SLOW,
  );
});

describe.concurrent("confirm", () => {
  test(
    "presence: listed with the indexed size and blobs in storage; a removed data blob or deleted snapshots are missing",
    async () => {
      const u = await unit();
      u.write("a.txt", "alpha\n");
      u.write("d/b.txt", "bravo\n");
      const m = [u.entry("a.txt"), u.entry("d/b.txt")];
      await outcomes(u.handler.push(m, u.ctx()));
      const c1 = await outcomes(u.handler.confirm(m, u.ctx(), "presence"));
      for (const e of m) expect(ok(c1.get(e.path)).method).toBe("presence");
      // a wrong size is not presence
      const c2 = await outcomes(u.handler.confirm([{ ...m[0]!, size: 99 }], u.ctx(), "presence"));
      expect(c2.get("a.txt")).toMatchObject({ ok: false, missing: true });

      // the data blobs are removed from the repository: the listing alone is not presence
      for (const b of u.dataBlobs()) rmSync(b);
      const c3 = await outcomes(u.handler.confirm(m, u.ctx(), "presence"));
      for (const e of m) {
        expect(c3.get(e.path)).toMatchObject({ ok: false, missing: true });
        expect(reasonOf(c3.get(e.path))).toContain("not in the repository");
      }
    },
    SLOW,
  );

  test(
    "presence after the snapshots holding it are deleted: missing",
    async () => {
      const u = await unit();
      u.write("a.txt", "alpha\n");
      const m = [u.entry("a.txt")];
      await outcomes(u.handler.push(m, u.ctx()));
      expect(ok((await outcomes(u.handler.confirm(m, u.ctx(), "presence"))).get("a.txt")).method).toBe("presence");
      for (const s of JSON.parse(kopia(u, ["snapshot", "list", "--all", "--json"]))) kopia(u, ["snapshot", "delete", s.id, "--delete"]);
      const c = await outcomes(u.handler.confirm(m, u.ctx(), "presence"));
      expect(c.get("a.txt")).toMatchObject({ ok: false, missing: true });
      expect(reasonOf(c.get("a.txt"))).toContain("no kopia snapshot");
      const cc = await outcomes(u.handler.confirm(m, u.ctx(), "content"));
      expect(cc.get("a.txt")).toMatchObject({ ok: false, missing: true });
    },
    SLOW,
  );

  test(
    "content: read back and BLAKE3-compared now; corrupted stored data fails content while presence passes; receipts never answer",
    async () => {
      const u = await unit(1);
      u.write("a.txt", "alpha\n");
      u.write("b.txt", "bravo\n");
      const m = [u.entry("a.txt"), u.entry("b.txt")];
      await outcomes(u.handler.push(m, u.ctx()));
      await outcomes(u.handler.push(m, u.ctx())); // receipts exist and are used by a push
      const t0 = nowNs();
      const before = reads(u);
      const c1 = await outcomes(u.handler.confirm(m, u.ctx(), "content"));
      for (const e of m) {
        expect(ok(c1.get(e.path))).toMatchObject({ method: "blake3" });
        expect(ok(c1.get(e.path)).unchanged).toBeUndefined();
        expect(ok(c1.get(e.path)).verifiedAt).toBeGreaterThanOrEqual(t0);
      }
      if (!REAL) expect(reads(u)).toBeGreaterThan(before);
      // an index that says other content: not confirmed, whatever the listing shows
      const other = { ...m[0]!, blake3: "0".repeat(64) };
      const c2 = await outcomes(u.handler.confirm([other], u.ctx(), "content"));
      expect(reasonOf(c2.get("a.txt"))).toContain("differs from the index");
      expect(ok((await outcomes(u.handler.confirm([other], u.ctx(), "presence"))).get("a.txt")).method).toBe("presence");

      // the stored bytes are damaged (every data blob, same length)
      for (const b of u.dataBlobs()) {
        const d = readFileSync(b);
        for (let i = 0; i < d.length; i++) d[i] = d[i]! ^ 0x5a;
        writeFileSync(b, d);
      }
      const c3 = await outcomes(u.handler.confirm(m, u.ctx(), "content"));
      for (const e of m) expect(c3.get(e.path)?.ok).toBe(false);
      const c4 = await outcomes(u.handler.confirm(m, u.ctx(), "presence"));
      for (const e of m) expect(ok(c4.get(e.path)).method).toBe("presence");
    },
    SLOW,
  );
});
