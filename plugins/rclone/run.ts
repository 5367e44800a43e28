// Invoking rclone: argv built from options (never a secret), secrets only in the environment,
// and every message that leaves the plugin passed through a redactor of known secret values.

import type { PluginApi, SpawnResult } from "../../src/kernel/plugin.ts";
import type { RcloneOptions } from "./options.ts";

// environment variables whose values are secrets (rclone remote options, config password, serve auth)
const SECRET_ENV = /^RCLONE_(CONFIG_PASS|PASS|PASSWORD|CONFIG_[A-Z0-9_]+_[A-Z0-9_]*(PASS|SECRET|TOKEN|KEY|CREDENTIALS|SALT|SAS_URL|AUTH)[A-Z0-9_]*)$/;
/** Values too plain to be secrets (flags such as *_KEY_USE_AGENT=true): redacting them would garble messages. */
const PLAIN_VALUE = /^(true|false|yes|no|\d{1,5})$/i;

export interface RunOptions {
  stdin?: string;
  signal?: AbortSignal;
  onStderrLine?(line: string): void;
  onStdoutLine?(line: string): void;
  /** stdout through a temporary file instead of a pipe (large listings). */
  stdoutToFile?: boolean;
  /** stdout as raw byte chunks (an object streamed back); not kept in the result. */
  onStdoutData?(chunk: Uint8Array): void;
}

export class Rclone {
  readonly binary: string;
  private readonly globalArgs: string[];
  private readonly secrets: string[];

  constructor(
    private readonly api: PluginApi,
    opts: RcloneOptions,
    private readonly env: Record<string, string | undefined>,
  ) {
    this.binary = opts.binary ?? "rclone";
    this.globalArgs = opts.rclone_config ? ["--config", opts.rclone_config] : [];
    const secrets = new Set<string>();
    for (const src of [process.env, env])
      for (const [k, val] of Object.entries(src)) if (val && val.length >= 4 && !PLAIN_VALUE.test(val) && SECRET_ENV.test(k)) secrets.add(val);
    // longest first, so a secret containing another is replaced whole
    this.secrets = [...secrets].sort((a, b) => b.length - a.length);
  }

  /** Replace every known secret value in a message. */
  redact(s: string): string {
    let out = s;
    for (const sec of this.secrets) if (out.includes(sec)) out = out.split(sec).join("***");
    return out;
  }

  /** Run rclone with global args first. Throws a failure error (redacted) if it cannot start. */
  async run(args: string[], o: RunOptions = {}): Promise<SpawnResult> {
    try {
      return await this.api.util.spawn(this.binary, [...this.globalArgs, ...args], {
        env: this.env,
        stdin: o.stdin,
        signal: o.signal,
        onStderrLine: o.onStderrLine,
        onStdoutLine: o.onStdoutLine,
        stdoutToFile: o.stdoutToFile,
        onStdoutData: o.onStdoutData,
      });
    } catch (e: any) {
      const why = e?.code === "ENOENT" ? "not found" : this.redact(String(e?.message ?? e));
      throw this.api.util.errors.failure(
        "rclone_not_found",
        `cannot run rclone (${this.binary}): ${why}`,
        "install rclone (https://rclone.org/install/) or set `binary` to its path in this destination's config",
      );
    }
  }

  /** A short, redacted description of why an rclone invocation failed. */
  describeFailure(what: string, r: SpawnResult): string {
    const how = r.code === null ? `was killed (${r.signal ?? "signal"})` : `exited with code ${r.code}${EXIT_MEANING[r.code] ? ` (${EXIT_MEANING[r.code]})` : ""}`;
    const last = lastErrorLine(r.stderr);
    return this.redact(`rclone ${what} ${how}${last ? `: ${last}` : ""}`);
  }
}

const EXIT_MEANING: Record<number, string> = {
  1: "error",
  2: "usage error",
  3: "directory not found",
  4: "file not found",
  5: "temporary error",
  6: "less serious error",
  7: "fatal error",
  8: "transfer limit exceeded",
  9: "no files transferred",
  10: "duration limit exceeded",
};

/** The most telling line of rclone's stderr: the final failure line, else the last error. */
export function lastErrorLine(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.trim()).filter(Boolean);
  let best = "";
  for (const raw of lines) {
    let msg = raw;
    let level = "";
    if (raw.startsWith("{")) {
      try {
        const j = JSON.parse(raw);
        msg = String(j.msg ?? "").trim();
        level = String(j.level ?? "");
        if (j.object) msg = `${j.object}: ${msg}`;
      } catch {
        /* not JSON after all */
      }
    } else {
      // "2026/11/24 04:40:49 ERROR : x: msg" or "2026/11/24 04:40:49 Failed to cat …"
      msg = raw.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d /, "");
      const m = /^(ERROR|CRITICAL|NOTICE|INFO|DEBUG|WARNING)\s*:\s*(.*)$/.exec(msg);
      if (m) {
        level = m[1]!.toLowerCase();
        msg = m[2]!;
      } else level = /^(Failed|Fatal|panic|Error|error)/.test(msg) ? "fatal" : "";
    }
    if (level === "fatal" || /^Failed to /.test(msg)) best = msg;
    else if ((level === "error" || level === "critical") && !/^Failed to /.test(best)) best = msg;
  }
  if (best.length > 400) best = best.slice(0, 400) + "…";
  return best;
}
