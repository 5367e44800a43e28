// Built-in destination `restic`: a restic repository (a local path, `sftp:…` or `rclone:REMOTE:path`)
// driven through the restic binary; written exactly as a third-party plugin (a plain object, types only).

import type { Plugin, PluginApi } from "hoard/plugin";
import { openRestic, type ResticConfig } from "./handler.ts";

export function resticSchema(api: PluginApi) {
  const v = api.v;
  return v.strictObject({
    repository: v.pipe(
      v.string("repository must be a string"),
      v.check((s) => !s.includes("\n") && !s.includes("\0"), "repository must be one line"),
      v.check((s) => s.startsWith("/") || /^sftp:./.test(s) || /^rclone:[^:]*:/.test(s), 'repository must be an absolute path, "sftp:…" or "rclone:REMOTE:path"'),
    ),
    password: api.util.secret(),
    binary: v.optional(v.pipe(v.string(), v.minLength(1, "must not be empty"))),
  });
}

const plugin: Plugin = {
  name: "restic",
  apiVersion: 1,
  setup(api) {
    api.destination({
      name: "restic",
      schema: resticSchema(api),
      open: (o, octx) => openRestic(api, o, octx),
    });
  },
};
export default plugin;
