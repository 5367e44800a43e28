// A volume's exclude patterns: gitignore-style globs (picomatch underneath) checked once when the
// config is read, then matched by the index walk against volume-relative paths.
//
// Rules, as in .gitignore: a pattern without a slash (a trailing one aside) matches a name at any
// depth ("*.tmp", ".DS_Store"); one with a slash is matched against the whole path from the volume
// root ("/build", "docs/*.md", "**/cache"); a trailing slash matches directories only ("tmp/");
// `*` `?` `[…]` `**` and `{a,b}` are globs, a backslash escapes; `*` matches leading dots. Not
// supported, and refused: `!` (re-including), empty patterns, `.`/`..` or empty segments.

import picomatch from "picomatch";

/** Does this volume-relative path ("/"-separated) match? `isDir`: it is a directory (not followed link). */
export type ExcludeMatcher = (rel: string, isDir: boolean) => boolean;

/** Compile one pattern; throws an Error whose message says what is wrong with it. */
export function compileExclude(pattern: string): ExcludeMatcher {
  if (pattern.trim() === "") throw new Error("an exclude pattern must not be empty");
  if (/[\0\n\r]/.test(pattern)) throw new Error("an exclude pattern must not contain a NUL character or a line break");
  if (pattern.startsWith("!")) throw new Error('"!" (re-including) is not supported: exclude patterns only exclude (escape it as "\\!" for a name starting with "!")');
  if (/(^|[^\\])(\\\\)*\\$/.test(pattern)) throw new Error("an exclude pattern must not end with a lone backslash");
  let p = pattern;
  const dirOnly = p.endsWith("/");
  if (dirOnly) p = p.slice(0, -1);
  const anchored = p.startsWith("/");
  if (anchored) p = p.slice(1);
  if (p === "") throw new Error("an exclude pattern must name something below the volume root");
  const segments = p.split("/");
  if (segments.some((s) => s === "" || s === "." || s === ".."))
    throw new Error('an exclude pattern must not contain empty, "." or ".." segments (paths are relative to the volume root)');
  // a name pattern (no slash): the last component at any depth; otherwise the whole relative path
  const byName = !anchored && segments.length === 1;
  // parentheses are literal, as in .gitignore (picomatch would read them as groups or extglobs)
  const glob = p.replace(/(\\.)|([()])/g, (m, esc: string | undefined) => (esc ? m : `\\${m}`));
  let test: (s: string) => boolean;
  try {
    test = picomatch(glob, { dot: true, strictBrackets: true, noextglob: true, nonegate: true });
  } catch (e) {
    throw new Error(`not a valid glob: ${(e as Error).message}`);
  }
  return (rel, isDir) => {
    if (dirOnly && !isDir) return false;
    return test(byName ? rel.slice(rel.lastIndexOf("/") + 1) : rel);
  };
}

/** One matcher for a volume's patterns (undefined when there are none). Throws like compileExclude. */
export function excludeMatcher(patterns: readonly string[] | undefined): ExcludeMatcher | undefined {
  if (!patterns?.length) return undefined;
  const all = patterns.map(compileExclude);
  return (rel, isDir) => all.some((m) => m(rel, isDir));
}
