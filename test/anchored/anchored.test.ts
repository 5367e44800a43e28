// Unit tests of src/kernel/anchored.ts with real directories: symlinked components are refused, operations go
// through the held handle wherever its directory moves, names are single components, link never replaces.

import { afterEach, beforeEach, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { closeSync, constants, fstatSync, readSync } from "node:fs";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { AnchorError, openRoot, splitRel } from "../../src/kernel/anchored.ts";
import { tempDir } from "../helpers.ts";

let dir = "";
const p = (rel: string) => join(dir, rel);
beforeEach(() => {
  dir = tempDir("hoard-anchored-");
  mkdirSync(p("root/a/b"), { recursive: true });
  mkdirSync(p("outside/b"), { recursive: true });
  writeFileSync(p("root/a/b/f"), "inside\n");
  writeFileSync(p("outside/b/f"), "outside\n");
  writeFileSync(p("outside/f"), "outside top\n");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const kindOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    if (e instanceof AnchorError) return e.kind;
    throw e;
  }
  return "ok";
};

test("openDir refuses a symlinked component at any depth, a file, and a missing one; create never goes through a link", () => {
  const root = openRoot(p("root"));
  try {
    symlinkSync(p("outside"), p("root/link"));
    symlinkSync(p("outside/b"), p("root/a/blink"));
    expect(kindOf(() => root.openDir(["link"]))).toBe("symlink");
    expect(kindOf(() => root.openDir(["a", "blink"]))).toBe("symlink");
    expect(kindOf(() => root.openDir(["link", "b"], { create: true }))).toBe("symlink");
    expect(kindOf(() => root.openDir(["a", "b", "f"]))).toBe("not_dir");
    expect(kindOf(() => root.openDir(["nope"]))).toBe("missing");
    expect(existsSync(p("outside/b/new"))).toBe(false);
    const made = root.openDir(["a", "x", "y"], { create: true });
    made.close();
    expect(existsSync(p("root/a/x/y"))).toBe(true);
    // openFile never follows a link as its final name; stat is lstat
    symlinkSync(p("outside/f"), p("root/fl"));
    expect(kindOf(() => root.openFile("fl", constants.O_RDONLY))).toBe("symlink");
    expect(root.stat("fl")!.isSymbolicLink()).toBe(true);
    expect(root.stat("absent")).toBeUndefined();
  } finally {
    root.close();
  }
});

test("names are single components", () => {
  const root = openRoot(p("root"));
  try {
    for (const bad of ["..", ".", "", "a/b", "x\0y"]) expect(() => root.at(bad)).toThrow(AnchorError);
    expect(() => splitRel("a/../b")).toThrow(AnchorError);
    expect(splitRel("a/b/c.txt")).toEqual({ parents: ["a", "b"], name: "c.txt" });
  } finally {
    root.close();
  }
});

test("unlink, rename and stat go through the handle even after its path is swapped for a symlink to an outside directory", () => {
  const root = openRoot(p("root"));
  const b = root.openDir(["a", "b"]);
  try {
    // the directory moves away and a link to the outside takes its name: the handle still names the real one
    renameSync(p("root/a/b"), p("root/a/b-real"));
    symlinkSync(p("outside/b"), p("root/a/b"));
    expect(b.stat("f")!.size).toBe(7n);
    b.rename("f", b, "g");
    expect(readdirSync(p("root/a/b-real"))).toEqual(["g"]);
    b.unlink("g");
    expect(readdirSync(p("root/a/b-real"))).toEqual([]);
    expect(readFileSync(p("outside/b/f"), "utf8")).toBe("outside\n");
    // rename across two handles
    const a = root.openDir(["a"]);
    writeFileSync(p("root/a/b-real/h"), "h\n");
    b.rename("h", a, "h2");
    expect(readFileSync(p("root/a/h2"), "utf8")).toBe("h\n");
    a.close();
  } finally {
    b.close();
    root.close();
  }
});

test("link gives a second name without ever replacing one (EEXIST)", () => {
  const root = openRoot(p("root"));
  const b = root.openDir(["a", "b"]);
  try {
    writeFileSync(p("root/a/b/other"), "other\n");
    expect(() => b.link("f", b, "other")).toThrow(expect.objectContaining({ code: "EEXIST" }));
    expect(readFileSync(p("root/a/b/other"), "utf8")).toBe("other\n");
    b.link("f", b, "f2");
    expect(b.stat("f2")!.ino).toBe(b.stat("f")!.ino);
    b.mkdir("d");
    expect(() => b.mkdir("d")).toThrow(expect.objectContaining({ code: "EEXIST" }));
  } finally {
    b.close();
    root.close();
  }
});

test("race: a parent swapped back to back with a link to the outside while files are opened and unlinked through handles", async () => {
  const N = 300;
  mkdirSync(p("root/d"));
  mkdirSync(p("out"));
  for (let i = 0; i < N; i++) {
    writeFileSync(p(`root/d/f${i}`), `in ${i}\n`);
    writeFileSync(p(`out/f${i}`), `in ${i}\n`); // same names and bytes outside
  }
  symlinkSync(p("out"), p("root/link"));
  const c = spawn(process.execPath, [join(import.meta.dir, "swapper.ts"), p("root/d"), p("root/link"), "500"], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise((r) => c.stdout.once("data", r));
  const root = openRoot(p("root"));
  let unlinked = 0;
  let refused = 0;
  for (let i = 0; i < N; i++) {
    let d;
    try {
      d = root.openDir(["d"]);
    } catch (e) {
      // a link at that name is refused; which word the kernel's answer maps to depends on the moment
      // (ELOOP, or ENOTDIR when O_DIRECTORY is checked first and the entry is swapped back before the lstat)
      expect(["symlink", "not_dir"]).toContain((e as AnchorError).kind);
      refused++;
      continue;
    }
    const fd = d.openFile(`f${i}`, constants.O_RDONLY);
    const buf = Buffer.alloc(64);
    expect(buf.subarray(0, readSync(fd, buf)).toString()).toBe(`in ${i}\n`);
    expect(d.stat(`f${i}`)!.ino).toBe(fstatSync(fd, { bigint: true }).ino);
    closeSync(fd);
    d.unlink(`f${i}`);
    d.close();
    unlinked++;
  }
  root.close();
  c.kill("SIGTERM");
  await new Promise((r) => c.on("close", r));
  expect(unlinked + refused).toBe(N);
  expect(readdirSync(p("out")).length).toBe(N); // nothing outside was touched
  // the swapper leaves the real directory at its name: exactly the refused files are left in it
  expect(readdirSync(p("root/d")).length).toBe(refused);
});
