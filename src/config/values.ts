// Building blocks of the config schemas: strict TOML tables (every unknown key reported), strings,
// absolute paths, and strings parsed into durations and byte sizes.

import * as v from "valibot";
import { isAbsolute, normalize, sep } from "node:path";
import { parseDuration } from "../kernel/duration.ts";
import { describe, isTable, UNKNOWN_KEYS } from "./issues.ts";

/** A TOML table check, so an array or scalar where a table belongs says so plainly. */
export const tableValue = () =>
  v.custom<Record<string, unknown>>(isTable, (issue) => `expected a table, got ${describe(issue.input)}`);

/**
 * `v.strictObject` for a TOML table: unknown keys are errors, and every unknown key is reported
 * (valibot itself stops at the first one per table).
 */
export function table<const E extends v.ObjectEntries>(entries: E) {
  return v.pipe(
    tableValue(),
    v.strictObject(entries, (issue) => {
      const last = issue.path?.[issue.path.length - 1];
      if (issue.expected === "never" && last && last.type === "object") {
        const obj = last.input;
        (issue as unknown as Record<symbol, unknown>)[UNKNOWN_KEYS] = Object.keys(obj).filter((k) => !Object.hasOwn(entries, k));
        return "unknown key";
      }
      if (last && last.origin === "key" && issue.input === undefined) return "missing required key";
      return `expected a table, got ${describe(issue.input)}`;
    }),
  );
}

export const stringOf = (what = "a string") => v.string((issue) => `expected ${what}, got ${describe(issue.input)}`);

/** An absolute path (normalised, no trailing slash); relative paths are errors. */
export const absolutePath = () =>
  v.pipe(
    stringOf("a string (an absolute path)"),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const p = dataset.value;
      if (p.includes("\0")) {
        addIssue({ message: "must not contain a NUL character" });
        return NEVER;
      }
      if (!isAbsolute(p)) {
        addIssue({ message: p.startsWith("~") ? "must be an absolute path (~ is not expanded)" : "must be an absolute path" });
        return NEVER;
      }
      const n = normalize(p);
      return n.length > 1 && n.endsWith(sep) ? n.slice(0, -1) : n;
    }),
  );

/** A string parsed by `parse`; what it throws becomes the issue's message. */
const parsedString = <T>(expected: string, parse: (s: string) => T) =>
  v.pipe(
    stringOf(expected),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      try {
        return parse(dataset.value);
      } catch (e) {
        addIssue({ message: (e as Error).message });
        return NEVER;
      }
    }),
  );

/** A duration string ("30d", "1h30m") parsed to nanoseconds. */
export const duration = () => parsedString('a duration string such as "12h"', parseDuration);

/** A byte size ("1GiB", "500MB", "0", "4096"): binary (KiB…TiB) and decimal (KB…TB) units. */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$/.exec(s);
  if (!m) throw new Error(`invalid size ${JSON.stringify(s)}: expected a number and unit such as "1GiB", "500MB" or "0"`);
  const mult: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };
  return Math.floor(Number(m[1]) * mult[m[2] ?? "B"]!);
}
export const size = () => parsedString('a size such as "1GiB" or "0"', parseSize);
