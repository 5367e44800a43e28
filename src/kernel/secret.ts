// Secrets in config and plugin options: a string, or `{ env = "VAR" }` resolved from the environment
// at parse time (api.util.secret), and naming a value's kind without ever echoing the value.

import * as v from "valibot";

const ENV_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** What kind of TOML value this is, for "expected …, got …" (no value is ever echoed). */
export function describe(x: unknown): string {
  if (x === undefined) return "nothing";
  if (x === null) return "null";
  if (typeof x === "string") return "a string";
  if (typeof x === "number") return Number.isInteger(x) ? "an integer" : "a float";
  if (typeof x === "bigint") return "an integer";
  if (typeof x === "boolean") return "a boolean";
  if (Array.isArray(x)) return "an array";
  if (x instanceof Date) return "a date-time";
  if (typeof x === "object") return "a table";
  return typeof x;
}

/**
 * A secret: a string, or `{ env = "VAR" }` read from process.env at parse time. An unset (or
 * empty) variable is an issue at the key's path; the secret's value never appears in a message.
 */
export function secret(): v.GenericSchema<string | { env: string }, string> {
  return v.pipe(
    v.union(
      [
        v.string(),
        v.strictObject({
          env: v.pipe(v.string(), v.regex(ENV_RE, "must be an environment variable name (letters, digits and _)")),
        }),
      ],
      (issue) => `expected a string or { env = "VAR" }, got ${describe(issue.input)}`,
    ),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const val = dataset.value;
      if (typeof val === "string") return val;
      const got = process.env[val.env];
      if (got === undefined) {
        addIssue({ message: `environment variable ${val.env} is not set` });
        return NEVER;
      }
      if (got === "") {
        addIssue({ message: `environment variable ${val.env} is empty` });
        return NEVER;
      }
      return got;
    }),
  );
}
