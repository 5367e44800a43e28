// Built-in policy `staleness`: evidence older than `max_evidence_age` (per destination, else the
// top-level default) does not satisfy the gate; a component never verified counts as infinitely old.

import type { ComponentView, Plugin, PluginApi } from "hoard/plugin";

export const KEY = "max_evidence_age";

/** The limit (ns) for a destination: its own `max_evidence_age`, else the top-level one, else none. */
export function limitFor(table: Record<string, unknown>, rootExtra: Record<string, unknown>): bigint | null {
  const own = table[KEY];
  if (typeof own === "bigint") return own;
  const dflt = rootExtra[KEY];
  return typeof dflt === "bigint" ? dflt : null;
}

export interface Staleness {
  limit: bigint;
  /** ns since verification, or null when never verified (infinitely old). */
  age: bigint | null;
  /** verifiedAt + limit, or null when never verified (expired from the start). */
  expiresAt: bigint | null;
  stale: boolean;
}

/** How fresh a component is under a limit. Stale means strictly older than the limit. */
export function staleness(c: ComponentView, limit: bigint, now: bigint): Staleness {
  if (c.verifiedAt === null) return { limit, age: null, expiresAt: null, stale: true };
  const age = now - c.verifiedAt;
  return { limit, age, expiresAt: c.verifiedAt + limit, stale: age > limit };
}

function durationSchema(api: PluginApi) {
  const v = api.v;
  return v.optional(
    v.pipe(
      v.string(),
      v.rawTransform(({ dataset, addIssue, NEVER }) => {
        let ns: bigint;
        try {
          ns = api.util.parseDuration(dataset.value);
        } catch (e) {
          addIssue({ message: (e as Error).message });
          return NEVER;
        }
        if (ns <= 0n) {
          addIssue({ message: "must be longer than zero" });
          return NEVER;
        }
        return ns;
      }),
    ),
  );
}

const plugin: Plugin = {
  name: "staleness",
  apiVersion: 1,
  setup(api) {
    const fmt = api.util.formatDuration;
    api.configKey("destination", KEY, durationSchema(api));
    api.configKey("root", KEY, durationSchema(api));
    api.policy({ name: "staleness", description: `evidence verified longer ago than ${KEY} (per destination, or the top-level default) does not count; never verified counts as infinitely old` });
    api.on("gate:check", (p) => {
      const limit = limitFor(p.table, p.config);
      if (limit === null) return;
      const s = staleness(p.component, limit, p.now);
      if (!s.stale) return;
      const what = s.age === null ? "has never been verified" : `was last verified ${fmt(s.age)} ago`;
      return { refuse: `${p.destination}'s evidence for content from ${p.component.originNode} ${what}, older than ${KEY} ${fmt(limit)}`, hint: `run \`hoard verify ${p.destination}\`` };
    });
    api.on("evidence:expiry", (p) => {
      const limit = limitFor(p.table, p.config);
      if (limit === null) return;
      const s = staleness(p.component, limit, p.now);
      return { expiresAt: s.expiresAt, why: `${KEY} ${fmt(limit)}` };
    });
  },
};
export default plugin;
