// Destination workflows: `dest init` (the only thing that creates destination state), `dest reset`
// (re-pin, epoch bump, components zeroed, history kept) and the listing of pinned destinations.

import { checkpoint } from "../kernel/crash.ts";
import { HoardError, refused, usageError } from "../kernel/errors.ts";
import { listPinned, pin, pinned, repin, rootIsMissing, unpinnedHint } from "../kernel/dest-identity.ts";
import { components, resetDestinationComponents } from "../kernel/vector.ts";
import type { Identity } from "../kernel/plugin.ts";
import { withRun, type OpContext } from "./context.ts";
import { openDestination } from "./dest-open.ts";
import { assertTreesDisjoint } from "../config/trees.ts";

/**
 * `dest init`: create the destination's identity and pin it. With `adopt`, pin the identity an
 * already initialised destination shows (after a lost database, or a crash between writing its
 * marker and pinning it): nothing it holds counts as evidence until a sync has verified it there.
 */
export async function destInit(ctx: OpContext, name: string, opts: { adopt?: boolean } = {}) {
  assertTreesDisjoint(ctx.config); // checked again now, before anything is created: symlinks may have moved since load
  const d = openDestination(ctx, name);
  const cur = pinned(ctx.db, name);
  if (cur)
    throw refused("dest_already_pinned", `refused: destination ${name} is already initialised (identity ${cur.identity}, epoch ${cur.epoch})`, `to start over with a new identity, run \`hoard dest reset ${name} --yes\``);
  let shows: Identity | "uninitialised" | undefined;
  try {
    shows = await d.handler.identify();
  } catch (e) {
    if (opts.adopt) throw e; // nothing readable to adopt: say why
    shows = undefined; // e.g. the directory does not exist yet: init creates it (or says why not)
  }
  if (opts.adopt && shows === "uninitialised")
    throw refused("dest_nothing_to_adopt", `refused: destination ${name} shows no hoard identity: there is nothing to adopt`, `run \`hoard dest init ${name}\` to initialise it`);
  if (!opts.adopt && shows !== undefined && shows !== "uninitialised")
    throw refused(
      "dest_already_initialised",
      `refused: destination ${name} is already a hoard destination (identity ${shows.id}), but this database has not pinned it`,
      `if it is yours (a lost database, an interrupted \`dest init\`), run \`hoard dest init ${name} --adopt\`: it pins that identity, and nothing there counts until \`hoard sync\` verifies it`,
    );
  const adopted = opts.adopt ? (shows as Identity) : undefined;
  const out = await withRun(ctx, { kind: "dest-init", volume: null, destination: name }, () => {}, async (run) => {
    const id = adopted ?? (await d.handler.init());
    checkpoint("dest-init.marker"); // the marker is written, the identity not pinned yet
    const row = ctx.db.tx(() => pin(ctx.db, name, d.config.type, id, run.id, adopted ? "adopted: pinned the identity the destination already showed" : undefined));
    return { status: "success", counts: {}, result: row };
  });
  return { run_id: out.run.id, destination: name, type: d.config.type, identity: out.result.identity, epoch: out.result.epoch, adopted: !!adopted };
}

/**
 * `dest reset`: re-pin a destination that was wiped, emptied or replaced to what it shows now (a new
 * identity is created when its marker is gone), start a new epoch and zero its evidence components
 * (history kept). Without `yes` it only says what it would do. A destination this database never
 * pinned is refused naming `dest init` or `dest adopt`; one that cannot be read (a missing root, an
 * unmounted disk) is refused naming the cause: a reset pins what the destination shows, never a guess.
 */
export async function destReset(ctx: OpContext, name: string, yes: boolean) {
  assertTreesDisjoint(ctx.config);
  const d = openDestination(ctx, name);
  const cur = pinned(ctx.db, name);
  const look = async (): Promise<Identity | "uninitialised"> => {
    try {
      return await d.handler.identify();
    } catch (e) {
      if (!cur) throw refused("dest_not_initialised", `refused: destination ${name} is not initialised in this database; there is nothing to reset`, `run \`hoard dest init ${name}\` (it says why if the destination cannot be read)`, { destination: name });
      throw cannotReset(name, e);
    }
  };
  const shown = await look();
  if (!cur) throw refused("dest_not_initialised", `refused: destination ${name} is not initialised in this database; there is nothing to reset`, unpinnedHint(name, shown), { destination: name });
  const comps = components(ctx.db, { destination: name }).filter((c) => c.epoch === cur.epoch);
  const shows = shown === "uninitialised" ? "nothing (no identity marker: wiped or emptied)" : shown.id;
  const plan = {
    destination: name,
    pinned_identity: cur.identity,
    shows_identity: shown === "uninitialised" ? null : shown.id,
    epoch: cur.epoch,
    new_epoch: cur.epoch + 1n,
    components_zeroed: comps.length,
  };
  const what = shown === "uninitialised" ? `create a new identity at ${name} (it shows no identity marker: wiped or emptied)` : shown.id === cur.identity ? `re-pin ${name} to the identity it shows (${shown.id}, the pinned one)` : `re-pin ${name} to the identity it shows now (${shown.id})`;
  if (!yes) return { ...plan, applied: false, message: `would ${what}, start epoch ${plan.new_epoch} and zero ${comps.length} evidence components (history kept; files are pushed and verified again before any offload); run again with --yes to do it` };
  const out = await withRun(ctx, { kind: "dest-reset", volume: null, destination: name }, () => {}, async (run) => {
    let id = await look();
    const wiped = id === "uninitialised";
    if (id === "uninitialised") id = await d.handler.init();
    const newId = id;
    const row = ctx.db.tx(() => {
      const r = repin(ctx.db, name, newId, run.id, wiped ? "dest reset: it showed no identity marker (wiped or emptied); a new identity was created" : "dest reset: re-pinned to the identity it showed");
      resetDestinationComponents(ctx.db, name, r.epoch, run.id);
      return r;
    });
    return { status: "success", counts: { components_zeroed: comps.length }, result: row };
  });
  return { ...plan, applied: true, run_id: out.run.id, identity: out.result.identity, epoch: out.result.epoch };
}

/** A reset needs to see what the destination shows: an unreadable one is refused, naming why and the way out. */
function cannotReset(name: string, e: unknown): HoardError {
  const msg = `cannot reset ${name}: ${(e as Error)?.message ?? e}`;
  if (rootIsMissing(e))
    return refused("dest_reset_missing_root", `refused: ${msg}`, `a reset never creates a missing root (it may be a disk that is not mounted): mount it; if the destination really is gone, create its directory again, then run \`hoard dest reset ${name} --yes\``, { destination: name });
  const hint = e instanceof HoardError ? e.hint : undefined;
  return new HoardError(e instanceof HoardError && e.kind === "refused" ? "refused" : "failure", e instanceof HoardError ? e.code : "dest_unreachable", msg, {
    hint: `${hint ?? "check that the destination is reachable"}; a reset pins what the destination shows, so it must answer first`,
    details: { destination: name },
  });
}

export function destList(ctx: OpContext) {
  const pins = new Map(listPinned(ctx.db).map((p) => [p.name, p]));
  const names = [...new Set([...Object.keys(ctx.config.destinations), ...pins.keys()])].sort();
  return names.map((n) => {
    const p = pins.get(n);
    const c = ctx.config.destinations[n];
    return {
      name: n,
      type: c?.type ?? p?.type ?? "?",
      in_config: !!c,
      identity: p?.identity ?? null,
      epoch: p?.epoch ?? null,
      initialized_at: p?.initialized_at ?? null,
    };
  });
}

export function requireDestination(ctx: OpContext, name: string) {
  if (!ctx.config.destinations[name]) throw usageError("unknown_destination", `unknown destination ${name}`, `known: ${Object.keys(ctx.config.destinations).join(", ") || "none"}`);
}
