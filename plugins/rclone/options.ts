// The [destinations.X] keys of type "rclone" (valibot schema built from api.v) and the helpers
// that turn them into rclone paths: joining remote paths, refusing secrets in connection strings.

import type { PluginApi } from "../../src/kernel/plugin.ts";

export interface RcloneOptions {
  /** "name:path", a connection string ":type,opt=val:path", or an absolute local path. */
  remote: string;
  /** An rclone.conf to use (passed as --config); otherwise rclone's own default/RCLONE_CONFIG. */
  rclone_config?: string;
  /** How to verify when the destination stores no hash hoard can compute. */
  verify: "hash" | "download";
  checkers?: number;
  /** The rclone executable (default "rclone" on PATH). */
  binary?: string;
}

// connection-string parameters whose values are secrets: they would end up in argv
const SECRET_PARAM = /(pass|secret|token|salt|(^|_)key)$/i;

/** The names of secret-looking parameters in a connection-string remote (":sftp,pass=…:path"). */
export function secretParams(remote: string): string[] {
  const m = /^:?[A-Za-z0-9_-]*,(.*):/.exec(remote);
  if (!m) return [];
  const out: string[] = [];
  for (const part of m[1]!.split(",")) {
    const key = part.split("=")[0]!.trim();
    if (key && SECRET_PARAM.test(key)) out.push(key);
  }
  return out;
}

export function optionsSchema(api: PluginApi) {
  const v = api.v;
  return v.strictObject({
    remote: v.pipe(
      v.string("remote must be a string: an rclone remote \"name:path\" or an absolute local path"),
      v.minLength(1, "remote must not be empty"),
      v.check((s) => !s.includes("\n") && !s.includes("\0"), "remote must be one line"),
      v.check((s) => s.includes(":") || s.startsWith("/"), 'remote must be "name:path" (an rclone remote) or an absolute local path'),
      v.check(
        (s) => secretParams(s).length === 0,
        (issue) =>
          `remote puts a secret on the command line (${secretParams(String(issue.input)).join(", ")}); define the remote in rclone.conf or with RCLONE_CONFIG_<NAME>_<KEY> environment variables instead`,
      ),
    ),
    rclone_config: v.optional(v.pipe(v.string(), v.check((s) => s.startsWith("/"), "rclone_config must be an absolute path"))),
    verify: v.optional(v.picklist(["hash", "download"], 'verify must be "hash" or "download"'), "hash"),
    checkers: v.optional(v.pipe(v.number(), v.integer("checkers must be an integer"), v.minValue(1), v.maxValue(1024))),
    binary: v.optional(v.pipe(v.string(), v.minLength(1))),
  });
}

/** Append a relative path to an rclone remote path without creating "remote:/x" (absolute on sftp). */
export function joinRemote(base: string, rel: string): string {
  if (rel === "") return base;
  if (base.endsWith(":") || base.endsWith("/")) return base + rel;
  return `${base}/${rel}`;
}
