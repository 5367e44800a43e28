// Path selectors for offload and restore: "." is the whole volume, otherwise a relative file or
// directory path inside it. Absolute selectors and selectors that escape the volume are usage errors.

import { posix } from "node:path";
import { usageError } from "../kernel/errors.ts";

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

/** Apply selectors; returns the matching items and the selectors that matched nothing. */
export function select<T extends { path: string }>(items: readonly T[], selectors: readonly string[]): { matched: T[]; unmatched: string[] } {
  const norm = selectors.map(normaliseSelector);
  const hit = new Set<string>();
  const matched = items.filter((it) => {
    let any = false;
    for (const s of norm)
      if (matches(s, it.path)) {
        hit.add(s);
        any = true;
      }
    return any;
  });
  return { matched, unmatched: norm.filter((s) => !hit.has(s)) };
}
