// Commands of the shell feature (registered through extra.ts).

import type { Command } from "./dispatch.ts";

export function shellCommands(): Record<string, Command> {
  return {};
}
