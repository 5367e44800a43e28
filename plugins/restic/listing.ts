// Parsing what restic prints: `snapshots --json` (hoard's snapshots of a volume, newest first),
// `ls --json` nodes (absolute path, size, mtime in ns) and the `backup --json` summary and errors.

export interface Snapshot {
  id: string;
  timeNs: bigint;
  tags: string[];
  host: string;
}

export interface Node {
  size: number;
  /** restic's mtime exactly as printed (RFC 3339 with nanoseconds): a receipt compares it verbatim. */
  mtime: string;
}

/** RFC 3339 with an optional fraction and zone, as Go marshals time.Time → ns since the epoch. */
export function parseGoTime(s: string): bigint | null {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) return null;
  const ms = Date.parse(m[1]! + m[3]!);
  if (Number.isNaN(ms)) return null;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? "").padEnd(9, "0"));
}

/** `snapshots --json`, only those carrying every tag in `tags`, newest first. */
export function parseSnapshots(stdout: string, tags: string[]): Snapshot[] {
  const arr = JSON.parse(stdout.trim() || "[]");
  if (!Array.isArray(arr)) throw new Error("restic snapshots --json did not print a JSON array");
  const out: Snapshot[] = [];
  for (const x of arr) {
    if (typeof x?.id !== "string" || !/^[0-9a-f]{64}$/.test(x.id)) continue;
    const t: string[] = Array.isArray(x.tags) ? x.tags.map(String) : [];
    if (!tags.every((tag) => t.includes(tag))) continue;
    out.push({ id: x.id, timeNs: (typeof x.time === "string" && parseGoTime(x.time)) || 0n, tags: t, host: String(x.hostname ?? "") });
  }
  return out.sort((a, b) => (a.timeNs > b.timeNs ? -1 : a.timeNs < b.timeNs ? 1 : a.id < b.id ? -1 : 1));
}

/** Collects the regular files of an `ls --json` listing below `root` (absolute, no trailing "/"), by relative path. */
export function nodeCollector(root: string): { line(l: string): void; files: Map<string, Node> } {
  const files = new Map<string, Node>();
  const prefix = root.endsWith("/") ? root : `${root}/`;
  return {
    files,
    line(l: string) {
      if (!l.startsWith("{")) return;
      let x: any;
      try {
        x = JSON.parse(l);
      } catch {
        return;
      }
      if (x?.struct_type !== "node" || x.type !== "file" || typeof x.path !== "string" || !x.path.startsWith(prefix)) return;
      files.set(x.path.slice(prefix.length), { size: Number(x.size ?? 0), mtime: String(x.mtime ?? "") });
    },
  };
}

export interface BackupSummary {
  snapshotId: string;
  filesNew: number;
  filesChanged: number;
  filesUnmodified: number;
}

/** The summary line of `backup --json` (short snapshot id), or undefined when there is none. */
export function parseSummary(stdout: string): BackupSummary | undefined {
  for (const line of stdout.split("\n").reverse()) {
    if (!line.startsWith("{")) continue;
    try {
      const x = JSON.parse(line);
      if (x?.message_type === "summary" && typeof x.snapshot_id === "string" && /^[0-9a-f]+$/.test(x.snapshot_id))
        return { snapshotId: x.snapshot_id, filesNew: Number(x.files_new ?? 0), filesChanged: Number(x.files_changed ?? 0), filesUnmodified: Number(x.files_unmodified ?? 0) };
    } catch {}
  }
  return undefined;
}

/** Items `backup --json` reported as errors (files it could not read and left out), with why. */
export function backupErrors(text: string): { item: string; error: string }[] {
  const out: { item: string; error: string }[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      const x = JSON.parse(line);
      if (x?.message_type === "error") out.push({ item: String(x.item ?? ""), error: String(x.error?.message ?? x.error ?? "") });
    } catch {}
  }
  return out;
}
