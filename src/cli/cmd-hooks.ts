// Commands of the hooks feature (registered through extra.ts).

import type { Command } from "./dispatch.ts";

export function hooksCommands(): Record<string, Command> {
  return {};
}
