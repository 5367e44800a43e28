// Typed errors: every failure hoard reports carries what the user should do next.
// The mapping from error kind to process exit code lives here and nowhere else.

export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  refused: 3,
  partial: 4,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export type ErrorKind = "failure" | "usage" | "config" | "refused" | "partial";

const KIND_EXIT: Record<ErrorKind, ExitCode> = {
  failure: EXIT.failure,
  usage: EXIT.usage,
  config: EXIT.usage,
  refused: EXIT.refused,
  partial: EXIT.partial,
};

export class HoardError extends Error {
  readonly kind: ErrorKind;
  /** What the user should do next (one sentence), or undefined if nothing helps. */
  readonly hint?: string;
  /** Machine-readable code, stable for scripts (snake_case). */
  readonly code: string;
  readonly details?: Record<string, unknown>;
  constructor(
    kind: ErrorKind,
    code: string,
    message: string,
    opts: { hint?: string; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "HoardError";
    this.kind = kind;
    this.code = code;
    this.hint = opts.hint;
    this.details = opts.details;
  }
  get exitCode(): ExitCode {
    return KIND_EXIT[this.kind];
  }
}

export const usageError = (code: string, msg: string, hint?: string, details?: Record<string, unknown>) =>
  new HoardError("usage", code, msg, { hint, details });
export const configError = (code: string, msg: string, hint?: string, details?: Record<string, unknown>) =>
  new HoardError("config", code, msg, { hint, details });
export const refused = (code: string, msg: string, hint?: string, details?: Record<string, unknown>) =>
  new HoardError("refused", code, msg, { hint, details });
export const failure = (code: string, msg: string, hint?: string, details?: Record<string, unknown>) =>
  new HoardError("failure", code, msg, { hint, details });

/** Raised by finishing a runs-like row that is no longer `running`. */
export class AlreadyFinished extends HoardError {
  constructor(table: string, id: bigint, status: string) {
    super("refused", "already_finished", `${table} ${id} is already finished (status ${status}); a second finish changes nothing`);
  }
}

/** The exit code for any thrown value: HoardErrors map by kind, anything else is a failure. */
export function exitCodeOf(err: unknown): ExitCode {
  return err instanceof HoardError ? err.exitCode : EXIT.failure;
}
