// Running the restic binary through api.util.spawn: argv without a shell, the repository and the
// password only in the child's environment (inherited restic settings dropped), secret scrubbing.

import { join } from "node:path";
import type { PluginApi, SpawnResult } from "hoard/plugin";

/** Inherited variables that would change which repository restic opens or how it gets a password. */
const DROPPED_ENV = ["RESTIC_REPOSITORY", "RESTIC_REPOSITORY_FILE", "RESTIC_PASSWORD", "RESTIC_PASSWORD_FILE", "RESTIC_PASSWORD_COMMAND", "RESTIC_KEY_HINT", "RESTIC_CACHE_DIR", "RESTIC_COMPRESSION", "RESTIC_PACK_SIZE"];

export interface ResticOptions {
  binary: string;
  repository: string;
  password: string;
  stateDir: string;
  env: Record<string, string | undefined>;
}

export interface RunOpts {
  signal?: AbortSignal;
  /** Raw stdout chunks (a file or a tar stream read back); stdout is then not kept. */
  onData?(chunk: Uint8Array): void;
  onLine?(line: string): void;
  /** Large outputs (listings): stdout through an unlinked temporary file. */
  toFile?: boolean;
  /** The child's working directory. */
  cwd?: string;
}

export class Restic {
  constructor(
    private readonly api: PluginApi,
    private readonly o: ResticOptions,
  ) {}

  get binary(): string {
    return this.o.binary;
  }

  /** The child's environment: inherited minus restic's own settings, plus repository, password and a private cache. */
  env(): Record<string, string | undefined> {
    const out: Record<string, string | undefined> = { ...this.o.env };
    for (const k of DROPPED_ENV) out[k] = undefined;
    out.RESTIC_REPOSITORY = this.o.repository;
    out.RESTIC_PASSWORD = this.o.password;
    out.RESTIC_CACHE_DIR = join(this.o.stateDir, "cache");
    out.TZ = "UTC";
    return out;
  }

  /** Replace every occurrence of the password in text that may reach the user, the DB or a log. */
  scrub(s: string): string {
    const p = this.o.password;
    let out = s;
    for (const x of new Set([p, p.trim()])) if (x.length > 0) out = out.split(x).join("<password>");
    return out;
  }

  /** Run restic ARGS (never with a secret in them). Rejects only when the binary cannot be started. */
  async run(args: string[], opts: RunOpts = {}): Promise<SpawnResult> {
    let r: SpawnResult;
    try {
      r = await this.api.util.spawn(this.o.binary, args, {
        env: this.env(),
        cwd: opts.cwd,
        signal: opts.signal,
        onStdoutData: opts.onData,
        onStdoutLine: opts.onLine,
        stdoutToFile: opts.toFile,
      });
    } catch (e: any) {
      throw this.api.util.errors.failure("restic_not_runnable", `cannot run restic (${this.o.binary}): ${e?.code ?? this.scrub(String(e?.message ?? e))}`, "install restic (e.g. apt-get install restic) or set the destination's binary");
    }
    return { ...r, stderr: this.scrub(r.stderr), stdout: opts.onData ? "" : r.stdout };
  }
}

/** The last meaningful stderr lines of a failed command (already scrubbed). */
export function errorText(r: SpawnResult, max = 4): string {
  const lines = r.stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("{"));
  const tail = lines.slice(-max).join("; ");
  if (tail) return tail;
  if (r.signal) return `killed by ${r.signal}`;
  return `exit code ${r.code}`;
}

export type Failure = "locked" | "wrong_password" | "no_repository" | "other";

/** What kind of failure restic reported. */
export function classify(r: SpawnResult): Failure {
  const s = r.stderr;
  if (/repository is already locked|unable to create lock/i.test(s)) return "locked";
  if (/wrong password or no key found/i.test(s)) return "wrong_password";
  if (/unable to open config file/i.test(s) && /Is there a repository at the following location\?/i.test(s)) return "no_repository";
  return "other";
}
