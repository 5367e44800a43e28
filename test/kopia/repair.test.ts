// The kopia destination when kopia lost data: presence narrowed down to the objects whose blobs are
// gone (never a whole batch kept or confirmed), and a push that has kopia upload lost content again.

import { spawnTool } from "../../src/kernel/spawn.ts";
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { FileOutcome, HandlerContext } from "../../src/kernel/plugin.ts";
import { Kopia } from "../../plugins/kopia/exec.ts";
import { verifyPresence } from "../../plugins/kopia/presence.ts";
import { parseLost } from "../../plugins/kopia/repair.ts";
import { ROOT } from "../helpers.ts";
import { DOUBLE_DIR, REAL } from "./harness.ts";
import { cleanup, outcomes, unit, type Unit } from "./unit.ts";

afterAll(cleanup);
const SLOW = 120_000;
const doubleOnly = test.skipIf(REAL);

const ok = (o: FileOutcome | undefined) => (o?.ok ? o : (expect(o).toMatchObject({ ok: true }) as never));
const reasonOf = (o: FileOutcome | undefined) => (o && !o.ok ? o.reason : `not a failure: ${JSON.stringify(o, (_, x) => (typeof x === "bigint" ? String(x) : x))}`);
/** The double keeps raw bytes in p/<content id>.f: the one blob holding exactly these bytes. */
function blobOf(u: Unit, bytes: string): string {
  const hits = u.dataBlobs().filter((b) => readFileSync(b, "utf8") === bytes);
  if (hits.length !== 1) throw new Error(`expected one blob of ${JSON.stringify(bytes)}, found ${hits.length}`);
  return hits[0]!;
}
const objOf = (blob: string) => basename(blob, ".f");
const verifies = (argvs: string[][]) => argvs.filter((a) => a[0] === "snapshot" && a[1] === "verify").map((a) => a.filter((x, i) => a[i - 1] === "--file-id"));
function warnings(u: Unit): { ctx: HandlerContext; warned: string[] } {
  const warned: string[] = [];
  const ctx = u.ctx();
  ctx.warn = (m) => void warned.push(m);
  return { ctx, warned };
}

describe.concurrent("presence of a batch with a lost blob", () => {
  doubleOnly(
    "only the file whose blob is gone fails (missing); the others are confirmed by a second run without it",
    async () => {
      const u = await unit();
      for (const [p, d] of [["a.txt", "alpha\n"], ["b.txt", "bravo\n"], ["c.txt", "charlie\n"]]) u.write(p!, d!);
      const m = ["a.txt", "b.txt", "c.txt"].map((p) => u.entry(p));
      await outcomes(u.handler.push(m, u.ctx()));
      const lost = blobOf(u, "charlie\n");
      rmSync(lost);
      const before = u.log().length;
      const c = await outcomes(u.handler.confirm(m, u.ctx(), "presence"));
      expect(ok(c.get("a.txt")).method).toBe("presence");
      expect(ok(c.get("b.txt")).method).toBe("presence");
      expect(c.get("c.txt")).toMatchObject({ ok: false, missing: true });
      expect(reasonOf(c.get("c.txt"))).toContain("missing blob");
      const runs = verifies(u.log().slice(before));
      expect(runs.map((r) => r.length)).toEqual([3, 2]);
      expect(runs[0]).toContain(objOf(lost));
      expect(runs[1]).not.toContain(objOf(lost));
    },
    SLOW,
  );

  doubleOnly(
    "when kopia's errors name no object, the failed batch is halved down to the broken object; nothing is confirmed by a failed run",
    async () => {
      const u = await unit(100, { KOPIA_DOUBLE_VERIFY_ANON: "1" });
      const files: [string, string][] = [["a.txt", "alpha\n"], ["b.txt", "bravo\n"], ["c.txt", "charlie\n"], ["d.txt", "delta\n"]];
      for (const [p, d] of files) u.write(p, d);
      const m = files.map(([p]) => u.entry(p));
      await outcomes(u.handler.push(m, u.ctx()));
      rmSync(blobOf(u, "charlie\n"));
      const before = u.log().length;
      const c = await outcomes(u.handler.confirm(m, u.ctx(), "presence"));
      for (const p of ["a.txt", "b.txt", "d.txt"]) expect(ok(c.get(p)).method).toBe("presence");
      expect(c.get("c.txt")?.ok).toBe(false);
      expect(reasonOf(c.get("c.txt"))).toContain("<object>");
      // [a b c d] fails → [a b] ok, [c d] fails → [c] fails, [d] ok
      expect(verifies(u.log().slice(before)).map((r) => r.length)).toEqual([4, 2, 2, 1, 1]);
    },
    SLOW,
  );

  doubleOnly(
    "a failure before any object is looked at (storage unreachable) fails the whole batch in one run",
    async () => {
      const u = await unit();
      u.write("a.txt", "alpha\n");
      u.write("b.txt", "bravo\n");
      await outcomes(u.handler.push([u.entry("a.txt"), u.entry("b.txt")], u.ctx()));
      const ids = [objOf(blobOf(u, "alpha\n")), objOf(blobOf(u, "bravo\n"))];
      const log = join(u.dir, "down.jsonl");
      const env = { ...process.env, PATH: `${DOUBLE_DIR}:${join(ROOT, "node_modules", ".bin")}:${process.env.PATH}`, KOPIA_DOUBLE_FAIL_CONNECT: "1", KOPIA_DOUBLE_LOG: log };
      const k = new Kopia({ binary: join(DOUBLE_DIR, "kopia"), password: "unit-pw", stateDir: u.stateDir, env, spawn: spawnTool });
      const v = await verifyPresence(k, ids, { signal: new AbortController().signal, now: () => 1n });
      for (const id of ids) expect(v.get(id)).toMatchObject({ ok: false, named: false, error: expect.stringContaining("host is down") });
      expect(readFileSync(log, "utf8").trim().split("\n")).toHaveLength(1);
      // and an object kopia cannot find is its own failure, the other one is confirmed
      const up = new Kopia({ binary: join(DOUBLE_DIR, "kopia"), password: "unit-pw", stateDir: u.stateDir, env: { ...env, KOPIA_DOUBLE_FAIL_CONNECT: "" }, spawn: spawnTool });
      rmSync(blobOf(u, "bravo\n"));
      const w = await verifyPresence(up, ids, { signal: new AbortController().signal, now: () => 7n });
      expect(w.get(ids[0]!)).toEqual({ ok: true, at: 7n });
      expect(w.get(ids[1]!)).toMatchObject({ ok: false, named: true });
    },
    SLOW,
  );
});

describe.concurrent("push when kopia lost content", () => {
  doubleOnly(
    "a present file whose blob is gone is uploaded again (content verify, content delete, snapshot --force-hash=100) and read back; an offloaded file of the same content is whole again",
    async () => {
      const u = await unit();
      u.write("a.txt", "alpha\n");
      u.write("k.txt", "kilo\n");
      const a = u.entry("a.txt");
      const kk = u.entry("k.txt");
      await outcomes(u.handler.push([a, kk], u.ctx()));
      // a.txt offloaded; copy/a.txt holds the same bytes (kopia: the same content)
      rmSync(join(u.root, "a.txt"));
      const aOff = { ...a, status: "offloaded" as const };
      u.write("copy/a.txt", "alpha\n");
      const copy = u.entry("copy/a.txt");
      const m = [aOff, kk, copy];
      for (const o of (await outcomes(u.handler.push(m, u.ctx()))).values()) expect(o.ok).toBe(true);

      const lost = blobOf(u, "alpha\n");
      rmSync(lost);
      const pres = await outcomes(u.handler.confirm(m, u.ctx(), "presence"));
      expect(pres.get("a.txt")?.ok).toBe(false);
      expect(pres.get("copy/a.txt")?.ok).toBe(false);
      expect(ok(pres.get("k.txt")).method).toBe("presence");

      const before = u.log().length;
      const { ctx, warned } = warnings(u);
      const p = await outcomes(u.handler.push(m, ctx));
      for (const e of m) expect(ok(p.get(e.path)).method).toBe("blake3");
      expect(ok(p.get("copy/a.txt")).unchanged).toBeUndefined();
      expect(ok(p.get("a.txt")).unchanged).toBeUndefined();
      expect(readFileSync(lost, "utf8")).toBe("alpha\n"); // written anew, from the file still here
      const argv = u.log().slice(before);
      expect(argv.some((x) => x[0] === "content" && x[1] === "verify")).toBe(true);
      const del = argv.filter((x) => x[0] === "content" && x[1] === "delete");
      expect(del).toHaveLength(1);
      expect(del[0]).toContain("--dangerous-commands=enabled");
      expect(del[0]).toContain(objOf(lost));
      expect(argv.filter((x) => x[0] === "snapshot" && x[1] === "create").map((x) => x.includes("--force-hash=100"))).toEqual([false, true]);
      expect(warned.join("\n")).toContain("kopia content delete");
      expect(warned.join("\n")).toContain(basename(lost).slice(0, -2).slice(0, 8));

      const again = await outcomes(u.handler.confirm(m, u.ctx(), "presence"));
      for (const e of m) expect(ok(again.get(e.path)).method).toBe("presence");
      // nothing left to repair: the next push runs no repair
      const b2 = u.log().length;
      for (const o of (await outcomes(u.handler.push(m, u.ctx()))).values()) expect(o.ok).toBe(true);
      expect(u.log().slice(b2).some((x) => x[0] === "content")).toBe(false);
    },
    SLOW,
  );

  doubleOnly(
    "damaged (present but unreadable) content is not repaired: the failure says how to find it; nothing is marked deleted",
    async () => {
      const u = await unit();
      u.write("a.txt", "alpha\n");
      const m = [u.entry("a.txt")];
      await outcomes(u.handler.push(m, u.ctx()));
      const b = blobOf(u, "alpha\n");
      const d = readFileSync(b);
      d[0] = d[0]! ^ 0xff;
      writeFileSync(b, d);
      const before = u.log().length;
      const p = await outcomes(u.handler.push(m, u.ctx()));
      expect(p.get("a.txt")?.ok).toBe(false);
      expect(reasonOf(p.get("a.txt"))).toContain("invalid checksum");
      expect(reasonOf(p.get("a.txt"))).toContain("kopia content verify --full");
      const argv = u.log().slice(before);
      expect(argv.some((x) => x[0] === "content" && x[1] === "verify")).toBe(true);
      expect(argv.some((x) => x[0] === "content" && x[1] === "delete")).toBe(false);
      expect(argv.some((x) => x.includes("--force-hash=100"))).toBe(false);
    },
    SLOW,
  );
});

test("content verify's lost-content lines are parsed; other lines are not", () => {
  const err = [
    "Verifying contents...",
    "content 0123abcd depends on missing blob p0123-s1",
    "WARN content k99ff depends on missing blob qdead",
    "content 0123abcd depends on missing blob p0123-s1",
    "content 77 is invalid: invalid checksum",
    "missingPack\t{\"packID\":\"p0123-s1\"}",
  ].join("\n");
  expect(parseLost(err)).toEqual([
    { content: "0123abcd", blob: "p0123-s1" },
    { content: "k99ff", blob: "qdead" },
  ]);
});
