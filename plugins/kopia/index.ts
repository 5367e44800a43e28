// Built-in destination `kopia`: a kopia filesystem repository driven through the kopia binary, plus
// the explicit-init policy on sync:preflight (connect without ever creating; refuse a changed id).
// Written exactly as a third-party plugin: a plain object, types only from the plugin API.

import type { Plugin, PluginApi } from "hoard/plugin";
import { openKopia, type KopiaInternals } from "./handler.ts";

function schema(api: PluginApi) {
  const v = api.v;
  const secret = api.util.secret();
  // the secret, plus whether it was written literally in the config (warned about when used)
  const password = v.pipe(
    v.unknown(),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const raw = dataset.value;
      const r = v.safeParse(secret, raw);
      if (!r.success) {
        for (const i of r.issues) addIssue({ message: i.message });
        return NEVER;
      }
      return { value: r.output, literal: typeof raw === "string" };
    }),
  );
  const percent = v.pipe(
    v.union([v.number(), v.bigint()], "must be a number"),
    v.transform((n) => Number(n)),
    v.check((n) => Number.isFinite(n) && n > 0 && n <= 100, "must be greater than 0 and at most 100"),
  );
  return v.strictObject({
    repository: v.pipe(v.string(), v.check((p) => p.startsWith("/"), "must be an absolute path")),
    password,
    verify_files_percent: v.optional(percent, 10),
    binary: v.optional(v.pipe(v.string(), v.minLength(1, "must not be empty"))),
  });
}

const plugin: Plugin = {
  name: "kopia",
  apiVersion: 1,
  setup(api) {
    // the handlers this command opened, by the kopia config file each reports in its capabilities
    const opened = new Map<string, KopiaInternals>();
    api.destination({
      name: "kopia",
      schema: schema(api),
      open: (o, octx) => openKopia(api, o, octx, (i) => opened.set(i.configFile, i)),
    });
    api.policy({ name: "kopia-explicit-init", description: "kopia repositories are created only by `hoard dest init`; every sync/verify connects without creating and refuses a repository whose unique id changed" });
    api.on("sync:preflight", async (p) => {
      if (p.type !== "kopia") return;
      const configFile = p.capabilities.facts?.config_file;
      const h = typeof configFile === "string" ? opened.get(configFile) : undefined;
      if (!h) throw api.util.errors.failure("kopia_preflight", `destination ${p.destination}: the kopia plugin did not open this destination (capabilities name no config file it knows)`);
      try {
        await h.ensure();
      } catch (e: any) {
        if (e?.code === "kopia_identity_changed") return { refuse: e.message.replace(/^refused: /, ""), hint: e.hint };
        throw e;
      }
    });
  },
};
export default plugin;
