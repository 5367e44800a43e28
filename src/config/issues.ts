// Describing config values and valibot issues without ever echoing a value (it may be a secret):
// "expected …, got …" messages, key paths such as destinations.nas.path, every unknown key reported.

import * as v from "valibot";
import { describe } from "../kernel/secret.ts";

export { describe };

export function isTable(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x) && !(x instanceof Date);
}

/** Stashed on valibot's (single) unknown-key issue: every unknown key of that table. */
export const UNKNOWN_KEYS = Symbol("hoard.unknownKeys");

const FRIENDLY: Record<string, string> = {
  string: "a string",
  number: "a number",
  bigint: "an integer",
  boolean: "a boolean",
  array: "an array",
  tuple: "an array",
  strict_tuple: "an array",
  loose_tuple: "an array",
  object: "a table",
  strict_object: "a table",
  loose_object: "a table",
  object_with_rest: "a table",
  record: "a table",
  date: "a date-time",
};

// valibot's default messages look like `Invalid type: Expected string but received 5`; the
// received part may quote the value, so it is dropped and rebuilt from the value's kind.
const DEFAULT_MESSAGE_RE = /^Invalid ([\w ]+): (?:Expected ([\s\S]*) but r|R)eceived /;

/** The human message of one valibot issue (without its path). */
export function issueMessage(issue: v.BaseIssue<unknown>): string {
  const m = DEFAULT_MESSAGE_RE.exec(issue.message);
  if (!m) return issue.message;
  const last = issue.path?.[issue.path.length - 1];
  if (issue.kind === "schema") {
    if (last && last.origin === "key" && issue.expected === "never") return "unknown key";
    if (last && last.origin === "key" && issue.input === undefined) return "missing required key";
    const want = FRIENDLY[issue.type] ?? (issue.type === "picklist" || issue.type === "enum" ? `one of ${issue.expected}` : issue.expected ?? "something else");
    return `expected ${want}, got ${describe(issue.input)}`;
  }
  return m[2] ? `invalid ${m[1]!.toLowerCase()}: expected ${m[2]}` : `invalid ${m[1]!.toLowerCase()}`;
}

/** Dotted key path as written in TOML: `volumes.photos.path`, `volumes."my.photos"`, `x.sync_to[1]`. */
export function formatKeyPath(items: readonly v.IssuePathItem[] | undefined): string {
  let s = "";
  for (const it of items ?? []) {
    const k = (it as { key: unknown }).key;
    if (typeof k === "number") {
      s += `[${k}]`;
      continue;
    }
    const key = String(k);
    const seg = /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
    s += s ? `.${seg}` : seg;
  }
  return s || "(top level)";
}

export interface FlatIssue {
  items: v.IssuePathItem[];
  message: string;
}

/** Flatten valibot issues into (path items, message), expanding unknown-key issues to every unknown key. */
export function flattenIssues(issues: readonly v.BaseIssue<unknown>[]): FlatIssue[] {
  const out: FlatIssue[] = [];
  for (const issue of issues) {
    const items = [...(issue.path ?? [])];
    const unknown = (issue as unknown as Record<symbol, unknown>)[UNKNOWN_KEYS] as string[] | undefined;
    const last = items[items.length - 1];
    if (unknown && last && last.type === "object") {
      const parent = items.slice(0, -1);
      for (const key of unknown)
        out.push({ items: [...parent, { type: "object", origin: "key", input: last.input, key, value: last.input[key] }], message: "unknown key" });
      continue;
    }
    out.push({ items, message: issueMessage(issue) });
  }
  return out;
}
