// Durations in config ("30d", "12h", "1h30m"): parsing into exact nanoseconds (bigint) and
// formatting nanoseconds back into a short human string ("3d 4h").

const NS_PER: Record<"w" | "d" | "h" | "m" | "s", bigint> = {
  w: 7n * 86_400n * 1_000_000_000n,
  d: 86_400n * 1_000_000_000n,
  h: 3_600n * 1_000_000_000n,
  m: 60n * 1_000_000_000n,
  s: 1_000_000_000n,
};

/** Largest duration accepted: what fits a signed 64-bit integer (SQLite INTEGER), ≈292 years. */
const MAX_NS = (1n << 63n) - 1n;

// Units in descending order, each at most once: "1h30m" yes, "30m1h" and "1h1h" no.
const DURATION_RE = /^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/**
 * Parse a duration such as "30d", "12h", "90m", "45s", "2w" or "1h30m" into nanoseconds.
 * Units: w (weeks), d, h, m (minutes), s; largest first, each at most once; no spaces or signs.
 * Throws a plain Error on anything else.
 */
export function parseDuration(s: string): bigint {
  const bad = () =>
    new Error(`invalid duration ${JSON.stringify(s)}: expected a number and unit such as "30d", "12h", "90m", "45s", "2w" or "1h30m"`);
  if (typeof s !== "string" || s === "") throw bad();
  const m = DURATION_RE.exec(s);
  if (!m) throw bad();
  let total = 0n;
  let any = false;
  (["w", "d", "h", "m", "s"] as const).forEach((unit, i) => {
    const digits = m[i + 1];
    if (digits === undefined) return;
    any = true;
    total += BigInt(digits) * NS_PER[unit];
  });
  if (!any) throw bad();
  if (total > MAX_NS) throw new Error(`duration ${JSON.stringify(s)} is too large (at most about 292 years)`);
  return total;
}

/**
 * A short human form of a duration: the largest unit and, when not zero, the next one
 * ("3d 4h", "12m", "5s", "1h 30m"); below one second "250ms", "0s". Truncates, never rounds up.
 */
export function formatDuration(ns: bigint): string {
  if (ns < 0n) return `-${formatDuration(-ns)}`;
  if (ns < NS_PER.s) {
    if (ns === 0n) return "0s";
    if (ns >= 1_000_000n) return `${ns / 1_000_000n}ms`;
    if (ns >= 1_000n) return `${ns / 1_000n}µs`;
    return `${ns}ns`;
  }
  const units = ["d", "h", "m", "s"] as const;
  let rest = ns;
  const parts: bigint[] = units.map((u) => {
    const q = rest / NS_PER[u];
    rest -= q * NS_PER[u];
    return q;
  });
  const first = parts.findIndex((q) => q > 0n);
  const out = [`${parts[first]}${units[first]}`];
  const next = parts[first + 1];
  if (next !== undefined && next > 0n) out.push(`${next}${units[first + 1]}`);
  return out.join(" ");
}
