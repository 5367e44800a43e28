// The hooks of the plugin API: the one typed hook map (each hook's payload and the decision a
// listener may return) and the views and answers its payloads and decisions are made of.

import type { Capabilities, Method } from "./plugin-handler.ts";

export interface RunInfo {
  id: bigint;
  kind: string;
  volume: string | null;
  destination: string | null;
}

export interface ComponentView {
  volume: string;
  destination: string;
  originNode: string;
  originRun: bigint;
  method: Method;
  verifiedAt: bigint | null;
  confirmedRun: bigint | null;
  epoch: bigint;
}

/** A listener's answer that refuses: the run (sync:preflight) or the offload of a component (gate:check). */
export interface Refusal {
  refuse: string;
  hint?: string;
}
/** A listener's answer that a verification method does not count as evidence. */
export interface Rejection {
  reject: string;
}
/** A listener's answer to when a component stops being fresh (null: it already has, e.g. never verified). */
export interface ExpiryDecision {
  expiresAt: bigint | null;
  why: string;
}

/**
 * Every hook: its payload and the decision a listener may return (`never`: it only observes).
 * A listener that reads a field its payload lacks, or returns another decision, does not compile.
 * A listener returns nothing to agree; payloads are read-only views, never mutators.
 */
export interface HookMap {
  "run:begin": { payload: { run: RunInfo }; decision: never };
  "run:finish": { payload: { run: RunInfo; status: string; counts: Record<string, unknown> }; decision: never };
  "index:finish": { payload: { run: RunInfo; volume: string; path: string; changed: boolean; counts: Record<string, number> }; decision: never };
  /** Before the manifest is captured and anything is transferred; a Refusal refuses the run (exit 3). */
  "sync:preflight": {
    payload: {
      run: RunInfo;
      volume: string;
      destination: string;
      type: string;
      options: Record<string, unknown>; // the type's validated keys
      table: Record<string, unknown>; // the destination's validated config table (incl. keys registered by plugins)
      /**
       * What the destination can verify by, as its handler reports it; its `facts` are how the
       * plugin that registered this type recognises a handler it opened (kopia: `config_file`).
       */
      capabilities: Capabilities;
    };
    decision: Refusal;
  };
  /** A proposed evidence method; a Rejection means evidence by it does not count. */
  "evidence:advance": {
    payload: { volume: string; destination: string; type: string; originNode: string; method: Method };
    decision: Rejection;
  };
  /** Gate evaluation of one evidence component; a Refusal keeps that component's files at that destination. */
  "gate:check": {
    payload: {
      volume: string;
      destination: string;
      table: Record<string, unknown>; // the destination's validated config table
      config: Record<string, unknown>; // validated root keys registered by plugins
      component: ComponentView;
      now: bigint;
    };
    decision: Refusal;
  };
  /** When a current-epoch component stops being fresh; the earliest ExpiryDecision wins. */
  "evidence:expiry": {
    payload: { volume: string; destination: string; table: Record<string, unknown>; config: Record<string, unknown>; component: ComponentView; now: bigint };
    decision: ExpiryDecision;
  };
}
export type HookName = keyof HookMap;
export type HookPayload<K extends HookName> = HookMap[K]["payload"];
export type HookDecision<K extends HookName> = HookMap[K]["decision"];
/** A listener: reads the payload, returns its decision (or nothing), possibly asynchronously. */
export type Listener<K extends HookName> = (payload: Readonly<HookPayload<K>>) => HookDecision<K> | void | Promise<HookDecision<K> | void>;
