// Path selectors for offload, restore and ls: "." is the whole volume, otherwise a file or directory
// path inside it, or a glob ('**/*.mov', picomatch). Selectors that escape the volume are usage errors.

import { basename, dirname, isAbsolute, posix, relative, resolve } from "node:path";
import { realpathSync } from "node:fs";
import picomatch from "picomatch";
import { usageError } from "../kernel/errors.ts";

/** Does this selector hold glob syntax? (It is matched as a glob unless it names a path literally.) */
export const isGlob = (sel: string): boolean => /[*?[\]{}]|^!|[@+!]\(/.test(sel);

/** `child` relative to `root` when it is root or inside it ("" for root itself), else undefined. */
function inside(root: string, child: string): string | undefined {
  const rel = relative(root, child);
  if (rel === "") return "";
  if (rel === ".." || rel.startsWith("../") || isAbsolute(rel)) return undefined;
  return rel;
}

/** The volume root as typed and as the kernel resolves it (symlinks followed), for comparisons. */
function roots(root: string): string[] {
  try {
    const real = realpathSync(root);
    return real === root ? [root] : [root, real];
  } catch {
    return [root];
  }
}

/** An absolute path with symlinks resolved as far as it exists (an offloaded file's directory usually does). */
function physical(p: string): string {
  const tail: string[] = [];
  for (let head = resolve(p); ; ) {
    try {
      return resolve(realpathSync(head), ...tail.reverse());
    } catch {
      const parent = dirname(head);
      if (parent === head) return resolve(p);
      tail.push(basename(head));
      head = parent;
    }
  }
}

/**
 * Selectors as the shell and git take them, made volume-relative: an absolute path must lie inside
 * the volume; a relative one is resolved against the current directory when that is inside the
 * volume, against the volume root otherwise. Globs are resolved the same way (their prefix only).
 */
export function resolveSelectors(selectors: readonly string[], root: string | undefined, cwd: string = process.cwd()): string[] {
  if (root === undefined) return [...selectors];
  const rs = roots(resolve(root));
  const here = rs.map((r) => inside(r, cwd)).find((x) => x !== undefined);
  return selectors.map((sel) => {
    if (sel === "") return sel; // normaliseSelector refuses it
    if (isAbsolute(sel)) {
      const rel = [posix.normalize(sel), physical(sel)].flatMap((p) => rs.map((r) => inside(r, p))).find((x) => x !== undefined);
      if (rel === undefined)
        throw usageError("selector_absolute", `selector ${JSON.stringify(sel)} is not inside the volume (${root})`, "give paths inside the volume: absolute, relative to the current directory inside it, or relative to its root; . for the whole volume");
      return rel === "" ? "." : rel;
    }
    if (here === undefined || here === "") return sel;
    const joined = posix.normalize(`${here}/${sel}`);
    if (joined === ".." || joined.startsWith("../"))
      throw usageError("selector_escapes", `selector ${JSON.stringify(sel)} (from ${cwd}) escapes the volume`, "give paths inside the volume, or . for the whole volume");
    return joined;
  });
}

/** A selector that matches something in this volume, for hints: its first top-level directory, else a file. */
export function exampleSelector(paths: readonly string[]): string {
  const dir = paths.find((p) => p.includes("/"));
  return dir ? dir.slice(0, dir.indexOf("/")) : (paths[0] ?? ".");
}

export function normaliseSelector(sel: string): string {
  if (sel === "") throw usageError("selector_empty", "an empty selector is not a path (an unset variable?)", "give paths relative to the volume root, or . for the whole volume");
  if (sel.startsWith("/")) throw usageError("selector_absolute", `selector ${JSON.stringify(sel)} is absolute`, "give paths relative to the volume root, or . for the whole volume");
  const n = posix.normalize(sel.replace(/\/+$/, "") || ".");
  if (n === ".." || n.startsWith("../")) throw usageError("selector_escapes", `selector ${JSON.stringify(sel)} escapes the volume`, "give paths inside the volume, or . for the whole volume");
  return n;
}

export function matches(selector: string, path: string): boolean {
  return selector === "." || path === selector || path.startsWith(selector + "/");
}

/** The paths p with from ≤ p < below (SQLite's order): all a selector can match, as a range of rows to read. */
export interface PathRange {
  from: string;
  below: string;
}

/**
 * A streaming form of select: `hasLiteral(s)` says whether some item lies at or below the glob-looking
 * selector s taken literally (then it stays literal). test() one path at a time; unmatched() at the end.
 */
export function selector(selectors: readonly string[], hasLiteral: (s: string) => boolean): { test(path: string): boolean; unmatched(): string[]; range?: PathRange } {
  const norm = selectors.map(normaliseSelector);
  // a glob matches a path or any directory above it; a selector naming a path literally stays literal
  const test = new Map<string, (p: string) => boolean>();
  for (const s of norm) {
    if (test.has(s)) continue;
    if (!isGlob(s) || hasLiteral(s)) test.set(s, (p) => matches(s, p));
    else {
      const m = picomatch(s, { dot: true });
      test.set(s, (p) => m(p) || ancestors(p).some((a) => m(a)));
    }
  }
  const hit = new Set<string>();
  // one literal path: only rows from it up to its last descendant can match ('0' follows '/')
  const only = norm.length === 1 && norm[0] !== "." && (!isGlob(norm[0]!) || hasLiteral(norm[0]!)) ? norm[0]! : undefined;
  return {
    ...(only !== undefined ? { range: { from: only, below: `${only}0` } } : {}),
    test(path) {
      let any = false;
      for (const s of norm)
        if (test.get(s)!(path)) {
          hit.add(s);
          any = true;
        }
      return any;
    },
    unmatched: () => norm.filter((s) => !hit.has(s)),
  };
}

/** Apply selectors; returns the matching items and the selectors that matched nothing. */
export function select<T extends { path: string }>(items: readonly T[], selectors: readonly string[]): { matched: T[]; unmatched: string[] } {
  const sel = selector(selectors, (s) => items.some((it) => matches(s, it.path)));
  const matched = items.filter((it) => sel.test(it.path));
  return { matched, unmatched: sel.unmatched() };
}

/** "a/b/c.txt" → ["a", "a/b"]. */
function ancestors(p: string): string[] {
  const out: string[] = [];
  for (let i = p.indexOf("/"); i !== -1; i = p.indexOf("/", i + 1)) out.push(p.slice(0, i));
  return out;
}
