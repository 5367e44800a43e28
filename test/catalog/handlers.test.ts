// putCatalog / listCatalogs / getCatalog of the fs and rclone (real rclone, a local-path remote)
// handlers: a round trip of real catalogs, names never replaced, temp names never listed, nothing
// left behind, and (fs) a symbolic link on the way refused.

import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openFs } from "../../plugins/fs/index.ts";
import type { DestinationHandler } from "../../src/kernel/plugin.ts";
import { CATALOG_FORMAT, decodeCatalog, encodeCatalog, type CatalogRow } from "../../src/kernel/catalog.ts";
import { nodeKey } from "../../src/kernel/keys.ts";
import { HoardError } from "../../src/kernel/errors.ts";
import { cleanup, fakeApi, makeCtx, makeVolume, open, tmp } from "../rclone/harness.ts";

afterAll(cleanup);

const key = () => nodeKey(tmp("hoard-catalog-key-"));
function makeCatalog(n: number, t: bigint) {
  const rows: CatalogRow[] = Array.from({ length: n }, (_, i) => ({ path: `a/${i}.jpg`, size: i, mtimeNs: 10n + BigInt(i), blake3: "ab".repeat(32), status: "present" as const }));
  return { format: CATALOG_FORMAT, volume: "photos", node: "n", destination: "d", runId: 1n, createdAt: t, hoardVersion: "0", rows };
}

interface Kind {
  name: string;
  /** A handler on a fresh destination, and the local directory that holds it. */
  make(): Promise<{ h: DestinationHandler; root: string }>;
}

const kinds: Kind[] = [
  {
    name: "fs",
    async make() {
      const root = tmp("hoard-catalog-fs-");
      const h = openFs(fakeApi(), { path: root }, { name: "nas", stateDir: tmp() });
      await h.init();
      return { h, root };
    },
  },
  {
    name: "rclone",
    async make() {
      const root = tmp("hoard-catalog-rc-");
      const { handler } = open({ remote: root });
      await handler.init();
      return { h: handler, root };
    },
  },
];

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(HoardError);
    return (e as HoardError).code;
  }
  return undefined;
}

for (const kind of kinds)
  describe(kind.name, () => {
    test("put, list, get: real catalogs round trip under <volume>/.hoard/catalogs; several are kept", async () => {
      const { h, root } = await kind.make();
      const ctx = makeCtx(makeVolume({ x: "x" }), { volume: "photos" });
      expect(await h.listCatalogs!("photos")).toEqual([]);
      const k = key();
      const a = encodeCatalog(makeCatalog(3, 1_000n), k);
      const b = encodeCatalog(makeCatalog(20_000, 2_000n), k); // gzipped, binary bytes
      await h.putCatalog!("photos", a.name, a.bytes, ctx);
      await h.putCatalog!("photos", b.name, b.bytes, ctx);
      expect((await h.listCatalogs!("photos")).sort()).toEqual([a.name, b.name].sort());
      expect(readdirSync(join(root, "photos", ".hoard", "catalogs")).sort()).toEqual([a.name, b.name].sort()); // nothing else left there
      for (const c of [a, b]) {
        const got = await h.getCatalog!("photos", c.name);
        expect(Buffer.from(got).equals(Buffer.from(c.bytes))).toBe(true);
        expect(decodeCatalog(c.name, got).catalog.rows.length).toBe(c === a ? 3 : 20_000);
      }
      // other volumes are separate
      expect(await h.listCatalogs!("music")).toEqual([]);
      expect(await codeOf(h.getCatalog!("music", a.name))).toBe("catalog_missing");
    });

    test("an existing name is never replaced: the same bytes again is a no-op, other bytes are refused", async () => {
      const { h, root } = await kind.make();
      const ctx = makeCtx(makeVolume({ x: "x" }), { volume: "photos" });
      const c = encodeCatalog(makeCatalog(2, 5_000n), key());
      await h.putCatalog!("photos", c.name, c.bytes, ctx);
      await h.putCatalog!("photos", c.name, c.bytes, ctx);
      const other = encodeCatalog(makeCatalog(3, 5_000n), key()).bytes;
      expect(await codeOf(h.putCatalog!("photos", c.name, other, ctx))).toBe("catalog_name_taken");
      expect(readFileSync(join(root, "photos", ".hoard", "catalogs", c.name)).equals(Buffer.from(c.bytes))).toBe(true);
      expect(await h.listCatalogs!("photos")).toEqual([c.name]);
    });

    test("temp files and foreign names in the catalog directory are not listed; bad names are refused", async () => {
      const { h, root } = await kind.make();
      const ctx = makeCtx(makeVolume({ x: "x" }), { volume: "photos" });
      const c = encodeCatalog(makeCatalog(1, 7_000n), key());
      await h.putCatalog!("photos", c.name, c.bytes, ctx);
      const dir = join(root, "photos", ".hoard", "catalogs");
      writeFileSync(join(dir, ".hoard-tmp-00000000-0000-0000-0000-000000000000"), "partial");
      writeFileSync(join(dir, "notes.txt"), "mine");
      expect(await h.listCatalogs!("photos")).toEqual([c.name]);
      expect(await codeOf(h.putCatalog!("photos", "../x.hcat", c.bytes, ctx))).toBe("bad_catalog_name");
      expect(await codeOf(h.getCatalog!("photos", "notes.txt"))).toBe("bad_catalog_name");
      expect(await codeOf(h.putCatalog!("a/b", c.name, c.bytes, ctx))).toBe("bad_volume_name");
    });
  });

test("fs: a symbolic link for <volume>/.hoard is refused, nothing is written through it", async () => {
  const root = tmp("hoard-catalog-fs-");
  const outside = tmp("hoard-catalog-outside-");
  const h = openFs(fakeApi(), { path: root }, { name: "nas", stateDir: tmp() });
  await h.init();
  mkdirSync(join(root, "photos"));
  symlinkSync(outside, join(root, "photos", ".hoard"));
  const c = encodeCatalog(makeCatalog(1, 9_000n), key());
  const ctx = makeCtx(makeVolume({ x: "x" }), { volume: "photos" });
  expect(await codeOf(h.putCatalog!("photos", c.name, c.bytes, ctx))).toBe("catalog_write");
  expect(readdirSync(outside)).toEqual([]);
  expect(await codeOf(h.listCatalogs!("photos"))).toBe("catalog_list");
  expect(existsSync(join(outside, "catalogs"))).toBe(false);
});
