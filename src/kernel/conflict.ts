// The run conflict relation, written once as data: which run kinds may run at the same time.
// Pure: no I/O. `conflicts` is symmetric by construction (a property test checks it).

export const RUN_KINDS = ["index", "sync", "verify", "offload", "restore", "recover", "dest-init", "dest-reset", "evidence-rewind", "alarm-ack"] as const;
export type RunKind = (typeof RUN_KINDS)[number];

/** How a kind holds its volume and destinations. */
export type Scope = "volume" | "dest-scoped" | "dest-wide";
export const KIND_SCOPE: Record<RunKind, Scope> = {
  index: "volume", // the whole volume
  offload: "volume", // the whole volume, and every destination its policy requires (touches)
  restore: "volume", // the whole volume, reading from one destination (touches)
  recover: "volume", // rebuilding a volume's rows from a destination's catalog (touches it)
  sync: "dest-scoped", // one volume towards one destination
  verify: "dest-scoped",
  "dest-init": "dest-wide", // a destination, whatever volume
  "dest-reset": "dest-wide",
  "evidence-rewind": "dest-wide",
  "alarm-ack": "volume", // acknowledging a lost file flips its row: the whole volume
};

/** Two runs on one volume: may they overlap? Only destination-scoped runs to different destinations. */
const SAME_VOLUME: Record<Scope, Record<Scope, "never" | "if-different-destination">> = {
  volume: { volume: "never", "dest-scoped": "never", "dest-wide": "never" },
  "dest-scoped": { volume: "never", "dest-scoped": "if-different-destination", "dest-wide": "never" },
  "dest-wide": { volume: "never", "dest-scoped": "never", "dest-wide": "never" },
};

export interface RunScope {
  kind: RunKind;
  volume: string | null;
  destination: string | null;
  /** Every destination this run reads or writes (offload: all required ones). */
  touches: readonly string[];
}

export function conflicts(a: RunScope, b: RunScope): boolean {
  if (a.volume !== null && a.volume === b.volume) {
    const rule = SAME_VOLUME[KIND_SCOPE[a.kind]][KIND_SCOPE[b.kind]];
    if (rule === "never") return true;
    if (a.destination === null || b.destination === null || a.destination === b.destination) return true;
  }
  // destination-wide runs conflict with every run touching their destination, both ways
  const wideTouch = (w: RunScope, o: RunScope) =>
    KIND_SCOPE[w.kind] === "dest-wide" && w.destination !== null && o.touches.includes(w.destination);
  return wideTouch(a, b) || wideTouch(b, a);
}

/** The canonical scope of a run kind: which destinations it touches. */
export function scopeOf(kind: RunKind, volume: string | null, destination: string | null, extraTouches: readonly string[] = []): RunScope {
  const touches = new Set<string>(extraTouches);
  if (destination !== null) touches.add(destination);
  return { kind, volume, destination, touches: [...touches].sort() };
}
