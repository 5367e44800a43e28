// Commands that live beside the core tree (demo, hooks, completion, …), registered in one place.

import type { Command } from "./dispatch.ts";

export function extraCommands(): Record<string, Command> {
  return {};
}
