// Example third-party plugin `require-method`: a destination may demand that its evidence was
// verified by particular methods (e.g. only blake3 or sha256, never md5) before files may be offloaded.
//
// Load it with `plugins = ["./examples/require-method/index.ts"]` in the config, then:
//
//   [destinations.cloud]
//   type = "rclone"
//   require_method = ["sha256", "blake3"]   # evidence by any other method does not count here
//
// It only imports types (erased at load time): everything it uses at run time comes through `api`,
// so it loads the same way into `bun src/cli/main.ts`, Deno, and the compiled `hoard` binary.

import type { ComponentView, Plugin, PluginApi } from "hoard/plugin";

export const KEY = "require_method";

/** The methods a destination demands (its validated require_method), or null when it sets none. */
export function required(methods: readonly string[] | undefined): readonly string[] | null {
  return methods && methods.length > 0 ? methods : null;
}

/**
 * Why a component does not meet the requirement, or null when it does. A component's method can
 * be a set ("blake3+md5": different files were verified differently); every member must be allowed.
 */
export function violation(component: Pick<ComponentView, "method">, allowed: readonly string[]): string | null {
  const used = component.method.split("+").filter(Boolean);
  if (used.length === 0) return "the evidence has no verification method";
  const bad = used.filter((m) => !allowed.includes(m));
  return bad.length ? `verified by ${bad.join(", ")}, but this destination requires ${allowed.join(" or ")}` : null;
}

function setup(api: PluginApi): void {
  const v = api.v;
  // the accessor is typed from the schema: requireMethod.get(table) is string[] | undefined
  const requireMethod = api.configKey("destination", KEY, v.optional(v.pipe(v.array(v.pipe(v.string(), v.regex(/^[a-z0-9-]+$/, "a method name like blake3 or sha256"))), v.minLength(1, "list at least one method"))));
  api.policy({ name: "require-method", description: `a destination's ${KEY} lists the only verification methods its evidence may use` });

  // Before any transfer: a destination that cannot verify by any required method is refused (exit 3),
  // rather than copying everything and then never allowing an offload.
  api.on("sync:preflight", (p) => {
    const allowed = required(requireMethod.get(p.table));
    if (!allowed) return;
    if (!p.capabilities.methods.some((m) => allowed.includes(m)))
      return {
        refuse: `destination ${p.destination} can verify by ${p.capabilities.methods.join(", ") || "nothing"}, but its ${KEY} requires ${allowed.join(" or ")}`,
        hint: `change ${KEY} in [destinations.${p.destination}], or use a destination that can verify that way`,
      };
  });

  // At the offload gate: evidence by any other method does not satisfy this destination.
  api.on("gate:check", (p) => {
    const allowed = required(requireMethod.get(p.table));
    if (!allowed) return;
    const why = violation(p.component, allowed);
    if (why) return { refuse: `${KEY}: evidence at ${p.destination} ${why}`, hint: `run \`hoard verify ${p.destination} ${p.volume}\` once the destination can verify by ${allowed.join(" or ")}` };
  });
}

const plugin: Plugin = { name: "require-method", apiVersion: 1, setup };
export default plugin;
