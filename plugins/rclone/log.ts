// Parser for rclone's --use-json-log stderr stream, one line at a time as it arrives: stats become
// progress, per-object errors and transfers are recorded, the hash-fallback notice becomes a warning.

/** rclone's accounting stats as they appear in the `stats` key of a JSON log line. */
export interface RcloneStats {
  bytes?: number;
  totalBytes?: number;
  transfers?: number;
  totalTransfers?: number;
  checks?: number;
  totalChecks?: number;
  errors?: number;
  fatalError?: boolean;
  lastError?: string;
  renames?: number;
}

export interface LogLine {
  /** Normalised level: "error" | "warning" | "notice" | "info" | "debug" | "fatal" | "unknown". */
  level: string;
  msg: string;
  object?: string;
  stats?: RcloneStats;
  json: boolean;
}

const LEVELS: Record<string, string> = {
  emergency: "error",
  alert: "error",
  critical: "error",
  error: "error",
  warning: "warning",
  notice: "notice",
  info: "info",
  debug: "debug",
};

/** Parse one stderr line (JSON log, or a plain line such as the final "Failed to copy …"). */
export function parseLogLine(line: string): LogLine | undefined {
  const t = line.trim();
  if (!t) return undefined;
  if (t.startsWith("{")) {
    try {
      const j = JSON.parse(t);
      if (j && typeof j === "object" && typeof j.msg === "string") {
        const level = LEVELS[String(j.level ?? "").toLowerCase()] ?? "unknown";
        const object = typeof j.object === "string" && j.object !== "" && j.objectType !== "string" ? j.object : undefined;
        const stats = j.stats && typeof j.stats === "object" ? (j.stats as RcloneStats) : undefined;
        return { level, msg: j.msg, object, stats, json: true };
      }
    } catch {
      /* fall through: treat as a plain line */
    }
  }
  // plain text: "2026/11/24 04:40:49 Failed to copy with 3 errors: …" or "… ERROR : obj: msg"
  let msg = t.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d(\.\d+)? /, "");
  const m = /^(ERROR|CRITICAL|NOTICE|INFO|DEBUG|WARNING)\s*:\s*(.*)$/.exec(msg);
  if (m) return { level: LEVELS[m[1]!.toLowerCase()] ?? "unknown", msg: m[2]!, json: false };
  if (/^(Failed to|Fatal error|panic:|fatal error:)/.test(msg)) return { level: "fatal", msg, json: false };
  return { level: "unknown", msg, json: false };
}

/** True for rclone's "no hashes in common; falling back to --size-only" notice (any level). */
export function isHashFallback(msg: string): boolean {
  return /no hashes? in common/i.test(msg) || /falling back to --size-only/i.test(msg);
}

export interface CopyLogSinks {
  progress?(s: RcloneStats): void;
  /** A warning for the run (recorded and shown). */
  warn?(msg: string): void;
  /** Diagnostic output that is not recorded on the run. */
  debug?(msg: string): void;
}

/**
 * Accumulates what one `rclone copy` said. Per-object errors are kept per retry attempt: an
 * error from an attempt that a later attempt superseded is not held against the object.
 */
export class CopyLog {
  /** Objects (rclone standard names) rclone reported as copied in this run. */
  readonly transferred = new Set<string>();
  /** Object-less errors, in order (e.g. "error listing: …", "Attempt 1/3 failed …"). */
  readonly generalErrors: string[] = [];
  readonly fatal: string[] = [];
  lastStats: RcloneStats | undefined;
  hashFallback = false;
  private previousAttempt = new Map<string, string>();
  private currentAttempt = new Map<string, string>();

  constructor(private readonly sinks: CopyLogSinks = {}) {}

  /** Feed one stderr line. */
  line(raw: string): void {
    const l = parseLogLine(raw);
    if (!l) return;
    if (l.stats) {
      this.lastStats = l.stats;
      this.sinks.progress?.(l.stats);
      return;
    }
    if (isHashFallback(l.msg)) {
      if (!this.hashFallback) {
        this.hashFallback = true;
        this.sinks.warn?.(`rclone: ${l.msg.trim()}`);
      }
      return;
    }
    switch (l.level) {
      case "error":
        if (l.object !== undefined) this.currentAttempt.set(l.object, l.msg);
        else {
          this.generalErrors.push(l.msg);
          if (/^Attempt \d+\/\d+ failed/.test(l.msg)) {
            this.previousAttempt = this.currentAttempt;
            this.currentAttempt = new Map();
          }
        }
        this.sinks.debug?.(`rclone error: ${l.object !== undefined ? `${l.object}: ` : ""}${l.msg}`);
        return;
      case "fatal":
        this.fatal.push(l.msg);
        this.sinks.debug?.(`rclone: ${l.msg}`);
        return;
      case "info":
        if (l.object !== undefined && /^Copied\b/.test(l.msg)) {
          this.transferred.add(l.object);
          this.currentAttempt.delete(l.object);
          this.previousAttempt.delete(l.object);
        }
        return;
      case "warning":
      case "notice":
        this.sinks.debug?.(`rclone ${l.level}: ${l.object !== undefined ? `${l.object}: ` : ""}${l.msg.trim()}`);
        return;
      default:
        if (!l.json) this.sinks.debug?.(`rclone: ${l.msg}`);
    }
  }

  /**
   * Per-object errors that still stand after the copy ended. With exit code 0 rclone's last
   * attempt succeeded, so nothing stands; otherwise the last finished attempt plus whatever the
   * interrupted one reported.
   */
  objectErrors(exitCode: number | null): Map<string, string> {
    if (exitCode === 0) return new Map();
    return new Map([...this.previousAttempt, ...this.currentAttempt]);
  }
}
