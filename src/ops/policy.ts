// Asking policy plugins which verification methods count as evidence at a destination
// (the evidence:advance hook), each distinct (origin, method) pair once per run.

import type { Method } from "../kernel/plugin.ts";
import type { OpContext } from "./context.ts";

/**
 * Ask policy plugins (evidence:advance) which (origin, method) pairs may count as evidence, each
 * distinct pair once (a run of equal pairs, the usual case, is skipped without a lookup).
 */
export async function acceptedMethods(ctx: OpContext, volume: string, destination: string, type: string, pairs: Iterable<[string, Method]>): Promise<(origin: string, m: Method) => boolean> {
  const verdict = new Map<string, boolean>();
  let lastNode: string | undefined;
  let lastMethod: Method | undefined;
  for (const [originNode, method] of pairs) {
    if (originNode === lastNode && method === lastMethod) continue;
    lastNode = originNode;
    lastMethod = method;
    const key = `${originNode}\u0000${method}`;
    if (verdict.has(key)) continue;
    const rejections = await ctx.registry.emit("evidence:advance", { volume, destination, type, originNode, method });
    verdict.set(key, rejections.length === 0);
  }
  return (o, m) => verdict.get(`${o}\u0000${m}`) ?? false;
}
