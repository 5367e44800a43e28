// `hoard doctor`: asks every configured destination for its tool, capabilities and identity, compares
// that with the pinned identity, and turns each finding into a state with one `next` step.

import { HoardError } from "../kernel/errors.ts";
import { pinned } from "../kernel/dest-identity.ts";
import { configFileWarnings } from "../config/secrets.ts";
import type { OpContext } from "./context.ts";
import { openDestination } from "./dest-open.ts";
import { volumesFor } from "./sync.ts";

/**
 * ok: reachable, showing its pinned identity. not_initialised: nothing there and nothing pinned.
 * adoptable: it shows an identity this database never pinned. identity_changed / wiped: it shows
 * another identity, or none, than the pinned one. unreachable: its identity could not be read.
 * error: the destination could not even be asked (tool missing, bad options, …).
 */
export type DoctorState = "ok" | "not_initialised" | "adoptable" | "identity_changed" | "wiped" | "unreachable" | "error";

export interface DoctorDestination {
  name: string;
  type: string;
  methods?: string[];
  warnings?: string[];
  facts?: Record<string, unknown>;
  /** What the destination shows now (null: not initialised there). Absent when it could not be read. */
  identity?: string | null;
  error?: string;
  identity_error?: string;
  /** The identity this database pinned (null: never initialised from here). */
  pinned: string | null;
  /** Volumes that sync to it or require it. */
  used_by: string[];
  state: DoctorState;
  /** The one thing to do about it, or null. */
  next: string | null;
}

export interface DoctorReport {
  destinations: DoctorDestination[];
  /** Files hoard uses that hold a literal secret and are readable by others. */
  warnings: string[];
  /** Destinations whose state is a problem (error, unreachable, identity_changed, wiped). */
  problems: number;
}

const PROBLEMS: ReadonlySet<DoctorState> = new Set(["error", "unreachable", "identity_changed", "wiped"]);
const message = (e: unknown) => (e as Error)?.message ?? String(e);
const hintOf = (e: unknown) => (e instanceof HoardError ? e.hint : undefined);

/** The state of one destination and the step that gets it working, from what was found (pure). */
export function diagnose(name: string, f: { error?: string; errorHint?: string; identity?: string | null; identityError?: string; identityHint?: string; pinned: string | null; usedBy: string[] }): { state: DoctorState; next: string | null } {
  if (f.error !== undefined) return { state: "error", next: f.errorHint ?? `fix destinations.${name} in the config (or install its tool), then run \`hoard doctor\` again` };
  if (f.identityError !== undefined) {
    const reach = f.identityHint ?? `check that ${name} is reachable (mounted, online, credentials set), then run \`hoard doctor\` again`;
    return { state: "unreachable", next: f.pinned === null ? `\`hoard dest init ${name}\` if it is new (it creates what it needs); else ${reach}` : reach };
  }
  if (f.pinned === null) {
    if (f.identity) return { state: "adoptable", next: `\`hoard dest adopt ${name}\` if this is your destination (it was initialised elsewhere or before this database), then \`hoard sync\`` };
    return { state: "not_initialised", next: f.usedBy.length ? `\`hoard dest init ${name}\`, then \`hoard sync\`` : `\`hoard dest init ${name}\`, and list it in a volume's sync_to (\`hoard volume add NAME PATH --sync-to ${name}\`)` };
  }
  if (f.identity === null) return { state: "wiped", next: `${name} shows no identity where ${f.pinned} was pinned (wiped, replaced, or the wrong path mounted): if it was really wiped, \`hoard dest reset ${name} --yes\`, then \`hoard sync\`` };
  if (f.identity !== f.pinned) return { state: "identity_changed", next: `${name} shows identity ${f.identity}, not the pinned ${f.pinned} (replaced or re-created?): if that is expected, \`hoard dest reset ${name} --yes\`, then \`hoard sync\`` };
  return { state: "ok", next: f.usedBy.length ? null : `no volume uses ${name}: add it to a volume's sync_to or offload_requires` };
}

/** Check every configured destination in turn (one failing never stops the others). */
export async function doctor(ctx: OpContext): Promise<DoctorReport> {
  const destinations: DoctorDestination[] = [];
  for (const name of Object.keys(ctx.config.destinations)) {
    const row: Partial<DoctorDestination> & { name: string; type: string } = { name, type: ctx.config.destinations[name]!.type };
    let errorHint: string | undefined;
    let identityHint: string | undefined;
    try {
      const d = openDestination(ctx, name);
      try {
        const caps = await d.handler.capabilities();
        Object.assign(row, { methods: caps.methods, warnings: caps.warnings, facts: caps.facts ?? {} });
      } catch (e) {
        row.error = message(e);
        errorHint = hintOf(e);
      }
      try {
        const id = await d.handler.identify();
        row.identity = id === "uninitialised" ? null : id.id;
      } catch (e) {
        row.identity_error = message(e);
        identityHint = hintOf(e);
      }
    } catch (e) {
      row.error = message(e);
      errorHint = hintOf(e);
    }
    const pin = pinned(ctx.db, name)?.identity ?? null;
    const usedBy = volumesFor(ctx, name);
    const { state, next } = diagnose(name, { error: row.error, errorHint, identity: row.identity, identityError: row.identity_error, identityHint, pinned: pin, usedBy });
    destinations.push({ ...row, pinned: pin, used_by: usedBy, state, next });
  }
  return { destinations, warnings: configFileWarnings(ctx.config), problems: destinations.filter((d) => PROBLEMS.has(d.state)).length };
}
