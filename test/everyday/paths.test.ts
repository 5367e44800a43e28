// Paths the way shells and git take them: selectors relative to the current directory inside the
// volume (else to its root), absolute paths inside the volume, quoted globs via picomatch, a hint
// whose example matches something, and -n for --dry-run.

import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, symlinkSync } from "node:fs";
import { code, liveStatus, syncedWorld, cleanupWorlds } from "../e2e/lib.ts";
import { hoardIn } from "./lib.ts";

setDefaultTimeout(240_000); // many real hoard processes per test; the machine may be busy
afterAll(cleanupWorlds);

const FILES = {
  "2019/beach.jpg": "beach\n",
  "2019/clip one.mov": "clip\n",
  "2019/trip/dune.mov": "dune\n",
  "2020/ünïcode.jpg": "uni\n",
  "2020/b[1].jpg": "bracket\n",
  "top.txt": "top\n",
};

describe("selectors", () => {
  test.concurrent("inside the volume: relative to the current directory ('.', a file, '..'-paths); outside: relative to the root", async () => {
    const w = await syncedWorld({ files: FILES });
    const inSub = await hoardIn(w, w.path("vol/2019"), "offload", "photos", "-n", ".", "--json");
    expect(code(inSub, 0).json.counts.selected).toBe(3);
    const file = code(await hoardIn(w, w.path("vol/2019/trip"), "ls", "photos", "dune.mov", "../beach.jpg", "--json"), 0);
    expect(file.json.files.map((f: any) => f.path)).toEqual(["2019/beach.jpg", "2019/trip/dune.mov"]);
    // from outside the volume the same words mean paths from its root
    const out = code(await hoardIn(w, w.dir, "ls", "photos", "2019/trip", "--json"), 0);
    expect(out.json.files.map((f: any) => f.path)).toEqual(["2019/trip/dune.mov"]);
    // climbing out of the volume from inside it is refused, nothing deleted
    const esc = code(await hoardIn(w, w.path("vol/2019"), "offload", "photos", "../../x", "--json"), 2);
    expect(esc.json.error.code).toBe("selector_escapes");
    // a real offload from a subdirectory takes exactly what is under it
    const off = code(await hoardIn(w, w.path("vol/2019/trip"), "offload", "photos", ".", "--json"), 0);
    expect(off.json.offloaded).toEqual(["2019/trip/dune.mov"]);
    expect(liveStatus(w)["2019/beach.jpg"]).toBe("present");
    // and restore resolves the same way
    const res = code(await hoardIn(w, w.path("vol/2019"), "restore", "photos", "trip", "--json"), 0);
    expect(res.json.counts.restored).toBe(1);
    expect(existsSync(w.path("vol/2019/trip/dune.mov"))).toBe(true);
  });

  test.concurrent("absolute paths inside the volume work (also through a symlink to it); outside it they are usage errors", async () => {
    const w = await syncedWorld({ files: FILES });
    const abs = code(await hoardIn(w, w.dir, "ls", "photos", w.path("vol/2019/beach.jpg"), w.path("vol/2020"), "--json"), 0);
    expect(abs.json.files.map((f: any) => f.path)).toEqual(["2019/beach.jpg", "2020/b[1].jpg", "2020/ünïcode.jpg"]);
    expect(code(await hoardIn(w, w.dir, "ls", "photos", w.path("vol"), "--json"), 0).json.counts.files).toBe(6);
    // the shell's current directory is the physical one: a symlink to the volume still counts as inside it
    symlinkSync(w.path("vol"), w.path("link"));
    const viaLink = code(await hoardIn(w, w.path("link/2020"), "ls", "photos", w.path("link/2019/beach.jpg"), "*.jpg", "--json"), 0);
    expect(viaLink.json.files.map((f: any) => f.path)).toEqual(["2019/beach.jpg", "2020/b[1].jpg", "2020/ünïcode.jpg"]);
    for (const outside of [w.path("nas"), "/", w.path("volume-not")]) {
      const r = code(await hoardIn(w, w.dir, "offload", "photos", "top.txt", outside, "--json"), 2);
      expect(r.json.error.code).toBe("selector_absolute");
      expect(r.json.error.message).toContain("not inside the volume");
    }
    expect(liveStatus(w)["top.txt"]).toBe("present");
    const off = code(await hoardIn(w, w.dir, "offload", "photos", w.path("vol/top.txt"), "--json"), 0);
    expect(off.json.offloaded).toEqual(["top.txt"]);
  });

  test.concurrent("globs: '**/*.mov', '*.jpg' from a subdirectory, a glob naming directories; a literal name with glob characters stays literal", async () => {
    const w = await syncedWorld({ files: FILES });
    const ls = async (cwd: string, ...sel: string[]) => code(await hoardIn(w, cwd, "ls", "photos", ...sel, "--json"), 0).json;
    expect((await ls(w.dir, "**/*.mov")).files.map((f: any) => f.path)).toEqual(["2019/clip one.mov", "2019/trip/dune.mov"]);
    expect((await ls(w.path("vol/2020"), "*.jpg")).files.map((f: any) => f.path)).toEqual(["2020/b[1].jpg", "2020/ünïcode.jpg"]);
    expect((await ls(w.dir, "20*")).counts.files).toBe(5); // directories 2019 and 2020, everything under them
    expect((await ls(w.dir, "2020/b[1].jpg")).files.map((f: any) => f.path)).toEqual(["2020/b[1].jpg"]);
    const none = await ls(w.dir, "**/*.png");
    expect(none.files).toEqual([]);
    expect(none.unmatched).toEqual(["**/*.png"]);
    // offload by glob: exactly the matching files go
    const off = code(await hoardIn(w, w.dir, "offload", "photos", "**/*.mov", "--json"), 0);
    expect(off.json.offloaded.sort()).toEqual(["2019/clip one.mov", "2019/trip/dune.mov"]);
    expect(existsSync(w.path("vol/2019/clip one.mov"))).toBe(false);
    expect(existsSync(w.path("vol/2019/beach.jpg"))).toBe(true);
    const back = code(await hoardIn(w, w.path("vol/2019"), "restore", "photos", "**/*.mov", "--json"), 0);
    expect(back.json.counts.restored).toBe(2);
  });
});

describe("hints and short flags", () => {
  test.concurrent("offload without a selector: the hint's example matches something in this volume", async () => {
    const w = await syncedWorld({ files: FILES });
    const r = code(await hoardIn(w, w.dir, "offload", "photos", "--json"), 2);
    expect(r.json.error.code).toBe("no_selector");
    expect(r.json.error.hint).toContain("hoard offload photos .");
    const example = /`hoard offload photos ([^`.][^`]*)`/.exec(r.json.error.hint)![1]!;
    expect(code(await hoardIn(w, w.dir, "offload", "photos", "-n", example, "--json"), 0).json.counts.selected).toBeGreaterThan(0);
    expect(r.json.error.hint).not.toContain("photos/2019");
  });

  test.concurrent("-n is --dry-run for offload, restore, sync and index (nothing changes)", async () => {
    const w = await syncedWorld();
    mkdirSync(w.path("vol/new"));
    w.write("vol/new/n.txt", "n\n");
    expect(code(await hoardIn(w, w.dir, "index", "photos", "-n", "--json"), 0).json).toMatchObject({ dry_run: true, counts: { new: 1 } });
    expect(code(await hoardIn(w, w.dir, "sync", "photos", "-n", "--json"), 0).json.results[0].status).toBe("dry-run");
    expect(code(await hoardIn(w, w.dir, "offload", "photos", "-n", ".", "--json"), 0).json.dry_run).toBe(true);
    expect(liveStatus(w)).toEqual({ "a.txt": "present", "dir/b.txt": "present", "dir/sub/c.bin": "present" });
    code(await hoardIn(w, w.dir, "offload", "photos", "a.txt"), 0);
    expect(code(await hoardIn(w, w.dir, "restore", "photos", "-n", "--json"), 0).json.dry_run).toBe(true);
    expect(existsSync(w.path("vol/a.txt"))).toBe(false);
    expect(code(await hoardIn(w, w.dir, "offload", "--help"), 0).stdout).toContain("-n, --dry-run");
    expect(code(await hoardIn(w, w.dir, "offload", "--help"), 0).stdout).toContain("<VOLUME> PATH…");
  });
});
