// api.util's platform layer as plugins get it: writeFileAtomic (temp + fsync + rename, never a partial
// file, never through a symlink) and the anchored directory handles.

import { afterAll, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pluginUtil } from "../../src/kernel/registry.ts";
import { tempDir } from "../helpers.ts";
import { writeFileAtomicSync } from "../../src/kernel/atomic.ts";

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const fresh = () => {
  const d = tempDir("hoard-util-");
  dirs.push(d);
  return d;
};
const { writeFileAtomic, anchored } = pluginUtil;

test("writeFileAtomic writes and replaces; strings, bytes and chunk iterables; no temp left behind", async () => {
  const d = fresh();
  const p = join(d, "f.json");
  await writeFileAtomic(p, "one");
  expect(readFileSync(p, "utf8")).toBe("one");
  await writeFileAtomic(p, new Uint8Array([116, 119, 111]));
  expect(readFileSync(p, "utf8")).toBe("two");
  async function* parts() {
    yield new TextEncoder().encode("thr");
    yield new TextEncoder().encode("ee");
  }
  await writeFileAtomic(p, parts());
  expect(readFileSync(p, "utf8")).toBe("three");
  expect(readdirSync(d)).toEqual(["f.json"]);
});

test("replace: false never replaces an existing name (EEXIST), and keeps its bytes", async () => {
  const d = fresh();
  const p = join(d, "marker");
  await writeFileAtomic(p, "first", { replace: false });
  const err = await writeFileAtomic(p, "second", { replace: false }).catch((e) => e);
  expect(err?.code).toBe("EEXIST");
  expect(readFileSync(p, "utf8")).toBe("first");
  expect(readdirSync(d)).toEqual(["marker"]);
});

test("a chunk source that throws (a hash check at its end) leaves the old file and no temp", async () => {
  const d = fresh();
  const p = join(d, "obj");
  writeFileSync(p, "old");
  function* checked() {
    yield new TextEncoder().encode("half of the new bytes");
    throw new Error("changed since it was indexed");
  }
  await expect(writeFileAtomic(p, checked())).rejects.toThrow("changed since it was indexed");
  expect(readFileSync(p, "utf8")).toBe("old");
  expect(readdirSync(d)).toEqual(["obj"]);
});

test("a symlink at the final name is replaced, never written through", async () => {
  const d = fresh();
  writeFileSync(join(d, "victim"), "keep me");
  symlinkSync(join(d, "victim"), join(d, "link"));
  await writeFileAtomic(join(d, "link"), "new");
  expect(readFileSync(join(d, "victim"), "utf8")).toBe("keep me");
  expect(lstatSync(join(d, "link")).isSymbolicLink()).toBe(false);
  expect(readFileSync(join(d, "link"), "utf8")).toBe("new");
});

test("through an anchored handle the write lands in the held directory, even after it was moved", async () => {
  const d = fresh();
  mkdirSync(join(d, "a/b"), { recursive: true });
  const root = anchored.openRoot(d);
  const b = root.openDir(["a", "b"]);
  renameSync(join(d, "a"), join(d, "moved")); // the handle follows the directory, not the path
  mkdirSync(join(d, "a/b"), { recursive: true });
  await writeFileAtomic(b.at("x.txt"), "anchored");
  b.close();
  root.close();
  expect(readFileSync(join(d, "moved/b/x.txt"), "utf8")).toBe("anchored");
  expect(existsSync(join(d, "a/b/x.txt"))).toBe(false);
});

test("anchored handles never follow a symlink; splitRel refuses . and ..", () => {
  const d = fresh();
  mkdirSync(join(d, "real"));
  symlinkSync(join(d, "real"), join(d, "sym"));
  const root = anchored.openRoot(d);
  try {
    expect(() => root.openDir(["sym"])).toThrow(expect.objectContaining({ kind: "symlink" }));
    expect(root.stat("sym")?.isSymbolicLink()).toBe(true);
  } finally {
    root.close();
  }
  expect(anchored.splitRel("a/b/c.txt")).toEqual({ parents: ["a", "b"], name: "c.txt" });
  expect(() => anchored.splitRel("a/../c")).toThrow();
});

test("writeFileAtomicSync: the same write without a promise; exactMode sets the bits whatever the umask", () => {
  const d = fresh();
  const p = join(d, "state.json");
  writeFileAtomicSync(p, "one", { mode: 0o640, exactMode: true });
  expect(readFileSync(p, "utf8")).toBe("one");
  expect(lstatSync(p).mode & 0o777).toBe(0o640);
  writeFileAtomicSync(p, [new Uint8Array([116]), new Uint8Array([119, 111])]);
  expect(readFileSync(p, "utf8")).toBe("two");
  expect(() => writeFileAtomicSync(p, "three", { replace: false })).toThrow();
  expect(readFileSync(p, "utf8")).toBe("two");
  expect(readdirSync(d)).toEqual(["state.json"]);
});

test("catalogs: names checked; read picks the copy whose bytes hash to the name; a stored name is never replaced", async () => {
  const { catalogs } = pluginUtil;
  const good = new TextEncoder().encode("catalog bytes");
  const h = pluginUtil.blake3Stream();
  h.update(good);
  const name = `${"1".padStart(20, "0")}-${h.digestHex()}.hcat`;
  expect(catalogs.isName(name)).toBe(true);
  expect(catalogs.isName("x.hcat")).toBe(false);
  expect(() => catalogs.checkName("d", "x.hcat")).toThrow("not a catalog name");
  const bad = new TextEncoder().encode("damaged");
  const copies: (Uint8Array | { error: string })[] = [{ error: "unreadable" }, bad, good];
  const read = (o: { copies: typeof copies }) => catalogs.read({ dest: "d", volume: "v", name, copies: o.copies, read: async (c) => c, hint: "h" });
  expect(await read({ copies })).toEqual(good);
  expect(await read({ copies: [bad] })).toEqual(bad);
  expect(await read({ copies: [] }).catch((e) => e.code)).toBe("catalog_missing");
  expect(await read({ copies: [{ error: "gone" }] }).catch((e) => e.message)).toContain("gone");
  const stored = (s: boolean, bytes: Uint8Array) => catalogs.alreadyStored({ dest: "d", name, bytes, stored: s, read: async () => good, hint: "h" });
  expect(await stored(false, bad)).toBe(false);
  expect(await stored(true, good)).toBe(true);
  expect(await stored(true, bad).catch((e) => e.code)).toBe("catalog_name_taken");
});
