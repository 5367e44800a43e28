// Built-in policy `content-hash`: only methods that compare content end to end count as evidence
// (BLAKE3 read back; sha256/sha1/md5 listed by the destination). A listing ("kopia-verified",
// "presence", "size") proves presence only and never counts, including for records made earlier.

import type { Plugin } from "hoard/plugin";

/** Methods that prove content. Size- or mtime-only methods never satisfy the gate. */
export const CONTENT_METHODS = new Set(["blake3", "sha256", "sha1", "md5"]);

const plugin: Plugin = {
  name: "content-hash",
  apiVersion: 1,
  setup(api) {
    api.policy({ name: "content-hash", description: `evidence must compare content: ${[...CONTENT_METHODS].join(", ")}` });
    api.on("evidence:advance", (p) => {
      if (!CONTENT_METHODS.has(p.method)) return { reject: `method ${p.method} does not compare content` };
    });
  },
};
export default plugin;
