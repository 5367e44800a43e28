// Commands that live beside the core tree (demo, hooks, completion, …): each feature module
// exports its commands and is registered here, in one place.

import type { Command } from "./dispatch.ts";
import { demoCommands } from "./cmd-demo.ts";
import { hooksCommands } from "./cmd-hooks.ts";
import { shellCommands } from "./cmd-shell.ts";

export function extraCommands(): Record<string, Command> {
  return { ...demoCommands(), ...hooksCommands(), ...shellCommands() };
}
