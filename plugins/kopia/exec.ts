// Running the kopia binary: argv without a shell, the password only as KOPIA_PASSWORD in the child's
// environment (inherited kopia settings dropped), binary-safe stdout sinks, and secret scrubbing.

import { Buffer } from "node:buffer";
import { join } from "node:path";
import type { PluginApi, SpawnResult } from "../../src/kernel/plugin.ts";

export interface KopiaResult {
  code: number | null;
  signal: string | null;
  stdout: Buffer;
  stderr: string;
}

/** Inherited variables that would change where or how kopia connects; hoard sets its own. */
const DROPPED_ENV = [
  "KOPIA_PASSWORD",
  "KOPIA_CONFIG_PATH",
  "KOPIA_CACHE_DIRECTORY",
  "KOPIA_LOG_DIR",
  "KOPIA_PERSIST_CREDENTIALS_ON_CONNECT",
  "KOPIA_CHECK_FOR_UPDATES",
  "KOPIA_USE_KEYRING",
  "KOPIA_DANGEROUS_COMMANDS", // hoard enables the one dangerous command it runs (content delete) itself
];

export interface KopiaOptions {
  binary: string;
  password: string;
  stateDir: string;
  env: Record<string, string | undefined>;
  /** The platform's spawn (api.util.spawn). */
  spawn: PluginApi["util"]["spawn"];
  /** The error for a binary that cannot be started (`code`: ENOENT, EACCES, …), naming how to install it. */
  cannotRun?(code: string): Error;
}

export class Kopia {
  readonly configFile: string;
  readonly cacheDir: string;
  constructor(private o: KopiaOptions) {
    this.configFile = join(o.stateDir, "repository.config");
    this.cacheDir = join(o.stateDir, "cache");
  }

  get binary(): string {
    return this.o.binary;
  }

  /** The child's environment: inherited, minus kopia's own settings, plus the password and UTC times. */
  env(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, val] of Object.entries(this.o.env)) if (val !== undefined && !DROPPED_ENV.includes(k)) out[k] = val;
    out.KOPIA_PASSWORD = this.o.password;
    out.KOPIA_CHECK_FOR_UPDATES = "false";
    out.KOPIA_PERSIST_CREDENTIALS_ON_CONNECT = "false";
    out.KOPIA_LOG_DIR = join(this.o.stateDir, "logs");
    out.TZ = "UTC"; // `ls -l` prints local times: make them parseable
    return out;
  }

  /** Replace every occurrence of the password in text that may reach the user, the DB or a log. */
  scrub(s: string): string {
    const p = this.o.password;
    let out = s;
    for (const x of new Set([p, p.trim()])) if (x.length > 0) out = out.split(x).join("<password>");
    return out;
  }

  /** Global flags every command gets (kopia accepts them everywhere). */
  common(): string[] {
    return ["--config-file", this.configFile, "--no-persist-credentials"];
  }

  /**
   * Run kopia ARGS through the one spawn (api.util.spawn). stdout is collected (binary-safe) unless
   * `sink` takes each chunk. Rejects only when the binary cannot be started, or with the sink's own
   * error (the child is then killed); the message never contains the password.
   */
  async run(args: string[], opts: { signal?: AbortSignal; sink?: (chunk: Buffer) => void; maxStdout?: number } = {}): Promise<KopiaResult> {
    const stop = new AbortController();
    const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
    const chunks: Buffer[] = [];
    let size = 0;
    let sinkError: unknown;
    const onStdoutData = (c: Uint8Array) => {
      const b = Buffer.from(c.buffer, c.byteOffset, c.byteLength);
      if (opts.sink) {
        if (sinkError === undefined)
          try {
            opts.sink(b);
          } catch (e) {
            sinkError = e;
            stop.abort();
          }
        return;
      }
      if (opts.maxStdout === undefined || size < opts.maxStdout) {
        chunks.push(b);
        size += b.length;
      }
    };
    let r: SpawnResult;
    try {
      r = await this.o.spawn(this.o.binary, args, { env: this.env(), signal, onStdoutData });
    } catch (e: any) {
      const code = typeof e?.code === "string" ? e.code : this.scrub(String(e?.message ?? e));
      throw this.o.cannotRun?.(code) ?? new Error(`cannot run kopia (${this.o.binary}): ${code}`);
    }
    if (sinkError !== undefined) throw sinkError;
    return { code: r.code, signal: r.signal, stdout: Buffer.concat(chunks), stderr: this.scrub(r.stderr) };
  }
}

/** The last meaningful stderr lines of a failed command, for error messages (already scrubbed). */
export function errorText(r: KopiaResult, max = 3): string {
  const lines = r.stderr
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const tail = lines.slice(-max).join("; ");
  if (tail) return tail;
  if (r.signal) return `killed by ${r.signal}`;
  return `exit code ${r.code}`;
}
