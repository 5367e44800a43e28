// Argument metadata beside citty's: what a flag's value or a positional argument is (completion reads
// it), and a command's variadic rest (PATH…, KEY=VALUE…), declared with the command, never guessed.

import type { ArgDef } from "citty";

/**
 * What a flag's value or a positional argument is: completed from files, directories, names, a fixed
 * list, or (path) the indexed paths of the volume named by the first positional.
 */
export type Kind = "file" | "dir" | "path" | "volume" | "destination" | "none" | `values:${string}`;

/** A citty argument plus what completes it (default: nothing). */
export type HoardArg = ArgDef & { complete?: Kind };
export type HoardArgs = Record<string, HoardArg>;

/** The further words a command takes after its declared positionals. */
export interface RestSpec {
  /** How help names them, e.g. "[PATH…]". */
  hint: string;
  /** What completes each of them. */
  complete: Kind;
}
