// The fs destination handler with real files (issue 12, items 2, 3, 5): a symlink swapped into the volume or
// anywhere inside the destination is refused for that file, never followed; nothing is written outside the
// destination; replaced objects get unique history names; a push removes hoard's own temp leftovers.

import { afterAll, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { openFs } from "../../plugins/fs/index.ts";
import type { FileOutcome } from "../../src/kernel/plugin.ts";
import { rewriteKeepMtime } from "../e2e/lib.ts";
import { cleanup, entryFor, fakeApi, makeCtx, makeVolume, tmp, type Volume } from "../rclone/harness.ts";

afterAll(cleanup);

async function initFs(root: string) {
  const h = openFs(fakeApi(), { path: root }, { name: "nas", stateDir: tmp() });
  await h.init();
  return h;
}

/** Every entry below dir, recursively (directories end with "/", symlinks with "@"). */
function listAll(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const d of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${d.name}` : d.name;
    if (d.isSymbolicLink()) out.push(`${r}@`);
    else if (d.isDirectory()) out.push(`${r}/`, ...listAll(dir, r));
    else out.push(r);
  }
  return out.sort();
}

/** The concatenated bytes of every regular file below dir (symlinks not followed). */
function allBytes(dir: string): string {
  return listAll(dir)
    .filter((r) => !r.endsWith("/") && !r.endsWith("@"))
    .map((r) => readFileSync(join(dir, r), "latin1"))
    .join("\n");
}

const push = async (h: ReturnType<typeof openFs>, vol: Volume, o: Parameters<typeof makeCtx>[1] = {}) => (await h.push(vol.manifest, makeCtx(vol, o))) as FileOutcome[];
const byPath = (out: FileOutcome[]) => Object.fromEntries(out.map((o) => [o.path, o]));

test("a source file swapped for a symlink after the manifest was taken (same size as the indexed file): never followed, its target's bytes never reach the destination", async () => {
  const root = tmp();
  const vol = makeVolume({ "a.txt": "alpha alpha\n", "dir/b.txt": "bravo\n", "dir/c.txt": "charlie\n" });
  const outside = tmp();
  const SECRET = "SECRET-ROOT\n"; // the same length as a.txt: a size check cannot tell them apart
  writeFileSync(join(outside, "secret"), SECRET);
  writeFileSync(join(outside, "c.txt"), "CONFIDENTIAL");
  const h = await initFs(root);
  rmSync(join(vol.root, "a.txt"));
  symlinkSync(join(outside, "secret"), join(vol.root, "a.txt"));
  // a parent directory swapped too: the outside directory holds a file of that name
  renameSync(join(vol.root, "dir"), join(vol.root, "dir-real"));
  symlinkSync(outside, join(vol.root, "dir"));
  const out = byPath(await push(h, vol));
  expect(out["a.txt"]).toMatchObject({ ok: false });
  expect((out["a.txt"] as any).reason).toContain("symbolic link");
  expect((out["a.txt"] as any).reason).toContain("index again");
  for (const p of ["dir/b.txt", "dir/c.txt"]) {
    expect(out[p]).toMatchObject({ ok: false });
    expect((out[p] as any).reason).toContain("symbolic link");
  }
  expect(allBytes(root)).not.toContain("SECRET");
  expect(allBytes(root)).not.toContain("CONFIDENTIAL");
  expect(existsSync(join(root, "vol")) ? listAll(join(root, "vol")) : []).toEqual([]); // nothing at all was placed, not even a temp file
  expect(readFileSync(join(outside, "secret"), "utf8")).toBe(SECRET);
});

test("a source file rewritten after the manifest was taken: the copy is checked before it is renamed, so the object already there is never replaced by unchecked bytes", async () => {
  const root = tmp();
  const vol = makeVolume({ "x.txt": "version A\n" });
  const h = await initFs(root);
  expect((await push(h, vol))[0]).toMatchObject({ ok: true, transferred: true });
  writeFileSync(join(vol.root, "x.txt"), "version B\n");
  vol.manifest = [entryFor(vol.root, "x.txt")]; // B indexed …
  rewriteKeepMtime(join(vol.root, "x.txt"), "version C\n"); // … then C written with B's size and mtime
  const [o] = await push(h, vol, { runId: 9n });
  expect(o).toMatchObject({ ok: false });
  expect((o as any).reason).toContain("the local file probably changed since it was indexed");
  expect(readFileSync(join(root, "vol/x.txt"), "utf8")).toBe("version A\n"); // untouched
  expect(existsSync(join(root, "vol/.hoard/history"))).toBe(false);
  expect(listAll(join(root, "vol")).filter((p) => p.includes(".hoard-tmp-"))).toEqual([]);
});

test("DEST/v/.hoard is a symlink to an outside directory: replacing an object needs the history, so it is refused and nothing is written outside", async () => {
  const root = tmp();
  const vol = makeVolume({ "a.txt": "alpha\n", "dir/b.txt": "bravo\n" });
  const h = await initFs(root);
  await push(h, vol);
  const outside = tmp();
  symlinkSync(outside, join(root, "vol/.hoard"));
  writeFileSync(join(vol.root, "dir/b.txt"), "bravo, changed\n");
  vol.manifest = vol.manifest.map((e) => entryFor(vol.root, e.path));
  const out = byPath(await push(h, vol, { runId: 8n }));
  expect(out["a.txt"]).toMatchObject({ ok: true });
  expect(out["dir/b.txt"]).toMatchObject({ ok: false });
  expect((out["dir/b.txt"] as any).reason).toContain("symbolic link");
  expect(readdirSync(outside)).toEqual([]);
  expect(readFileSync(join(root, "vol/dir/b.txt"), "utf8")).toBe("bravo\n"); // the older copy stays where it was
  expect(listAll(join(root, "vol/dir"))).toEqual(["b.txt"]);
});

test("a directory inside the destination swapped for a symlink (to an outside copy of the same files): push, verify and both confirm depths refuse it; nothing is read or written there", async () => {
  const root = tmp();
  const vol = makeVolume({ "a.txt": "alpha\n", "dir/b.txt": "bravo\n", "dir/sub/c.txt": "charlie\n" });
  const h = await initFs(root);
  await push(h, vol);
  const outside = tmp();
  renameSync(join(root, "vol/dir"), join(outside, "dir")); // identical bytes, sizes and names
  symlinkSync(join(outside, "dir"), join(root, "vol/dir"));
  const before = listAll(outside);
  for (const o of [await push(h, vol, { runId: 3n }), await h.verify(vol.manifest, makeCtx(vol)), await h.confirm(vol.manifest, makeCtx(vol), "presence"), await h.confirm(vol.manifest, makeCtx(vol), "content")] as FileOutcome[][]) {
    const m = byPath(o);
    expect(m["a.txt"]!.ok).toBe(true);
    for (const p of ["dir/b.txt", "dir/sub/c.txt"]) {
      expect(m[p]).toMatchObject({ ok: false });
      expect((m[p] as any).reason).toContain("symbolic link");
    }
  }
  expect(listAll(outside)).toEqual(before);
  expect(lstatSync(join(root, "vol/dir")).isSymbolicLink()).toBe(true);
  // fetch (restore's source) refuses it too
  const target = join(tmp(), "fetched");
  await expect(h.fetch(vol.manifest.find((e) => e.path === "dir/b.txt")!, target, makeCtx(vol))).rejects.toThrow("symbolic link");
  expect(existsSync(target)).toBe(false);
  // the object itself as a symlink: not followed either
  rmSync(join(root, "vol/dir"));
  mkdirSync(join(root, "vol/dir"));
  symlinkSync(join(outside, "dir/b.txt"), join(root, "vol/dir/b.txt"));
  for (const depth of ["presence", "content"] as const) expect(((await h.confirm(vol.manifest, makeCtx(vol), depth)) as FileOutcome[])[1]).toMatchObject({ ok: false });
  await expect(h.fetch(vol.manifest[1]!, target, makeCtx(vol))).rejects.toThrow("symbolic link");
});

test("DEST/v itself a symlink to an outside directory: every entry refused, nothing written outside", async () => {
  const root = tmp();
  const vol = makeVolume({ "a.txt": "alpha\n", "dir/b.txt": "bravo\n" });
  const h = await initFs(root);
  const outside = tmp();
  symlinkSync(outside, join(root, "vol"));
  const out = await push(h, vol);
  expect(out.map((o) => o.ok)).toEqual([false, false]);
  for (const o of out) expect((o as any).reason).toContain("symbolic link");
  expect(readdirSync(outside)).toEqual([]);
  // the marker itself as a symlink is not read through either
  rmSync(join(root, ".hoard-destination"));
  writeFileSync(join(outside, "marker"), JSON.stringify({ id: "someone-else" }));
  symlinkSync(join(outside, "marker"), join(root, ".hoard-destination"));
  await expect(h.identify()).rejects.toThrow("symbolic link");
});

test("replaced objects are kept under .hoard/history with names that never overwrite an earlier kept copy (a reused run id too)", async () => {
  const root = tmp();
  const vol = makeVolume({ "d/x.txt": "v1\n" });
  const h = await initFs(root);
  await push(h, vol, { runId: 5n });
  for (const v of ["v2\n", "v3\n", "v4\n"]) {
    writeFileSync(join(vol.root, "d/x.txt"), v);
    vol.manifest = [entryFor(vol.root, "d/x.txt")];
    expect((await push(h, vol, { runId: 6n }))[0]).toMatchObject({ ok: true, transferred: true }); // e.g. a new database reusing run ids
  }
  const hist = join(root, "vol/.hoard/history/run-6/d");
  expect(readdirSync(hist).sort()).toEqual(["x.txt", "x.txt.1", "x.txt.2"]);
  expect(["x.txt", "x.txt.1", "x.txt.2"].map((n) => readFileSync(join(hist, n), "utf8"))).toEqual(["v1\n", "v2\n", "v3\n"]);
  expect(readFileSync(join(root, "vol/d/x.txt"), "utf8")).toBe("v4\n");
});

test("a push removes hoard's own temp leftovers (exact names) in the directories it touches; a link of that name is removed, not followed; anything else is kept", async () => {
  const root = tmp();
  const vol = makeVolume({ "a.txt": "alpha\n", "dir/b.txt": "bravo\n" });
  const h = await initFs(root);
  await push(h, vol);
  const outside = tmp();
  writeFileSync(join(outside, "target"), "outside\n");
  const t1 = `.hoard-tmp-${randomUUID()}`;
  const t2 = `.hoard-tmp-${randomUUID()}`;
  const t3 = `.hoard-tmp-${randomUUID()}`;
  writeFileSync(join(root, "vol", t1), "half a copy");
  symlinkSync(join(outside, "target"), join(root, "vol/dir", t2));
  mkdirSync(join(root, "vol/dir", t3)); // not something hoard makes: kept
  writeFileSync(join(root, "vol/dir/.hoard-tmp-notes"), "a user's file\n");
  const out = await push(h, vol, { runId: 2n });
  expect(out.every((o) => o.ok)).toBe(true);
  expect(listAll(join(root, "vol"))).toEqual(["a.txt", "dir/", "dir/.hoard-tmp-notes", `dir/${t3}/`, "dir/b.txt"].sort());
  expect(readFileSync(join(outside, "target"), "utf8")).toBe("outside\n");
});

test("an object at the destination replaced by a symlink to an outside file, or by a directory: push never writes through it; the link is kept in the history and replaced, the directory refuses the file", async () => {
  const root = tmp();
  const vol = makeVolume({ "a.txt": "alpha\n", "b.txt": "bravo\n" });
  const h = await initFs(root);
  await push(h, vol);
  const outside = tmp();
  writeFileSync(join(outside, "target"), "outside\n");
  rmSync(join(root, "vol/a.txt"));
  symlinkSync(join(outside, "target"), join(root, "vol/a.txt"));
  rmSync(join(root, "vol/b.txt"));
  mkdirSync(join(root, "vol/b.txt"));
  const out = byPath(await push(h, vol, { runId: 4n }));
  expect(out["a.txt"]).toMatchObject({ ok: true, transferred: true });
  expect(out["b.txt"]).toMatchObject({ ok: false });
  expect((out["b.txt"] as any).reason).toContain("directory");
  expect(readFileSync(join(outside, "target"), "utf8")).toBe("outside\n");
  expect(readdirSync(outside)).toEqual(["target"]);
  expect(readFileSync(join(root, "vol/a.txt"), "utf8")).toBe("alpha\n");
  expect(lstatSync(join(root, "vol/a.txt")).isFile()).toBe(true);
  expect(lstatSync(join(root, "vol/.hoard/history/run-4/a.txt")).isSymbolicLink()).toBe(true);
  expect(readdirSync(join(root, "vol/b.txt"))).toEqual([]);
});
