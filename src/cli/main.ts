#!/usr/bin/env bun
// hoard's entry point: build the command tree, run it, exit with the code the run decided.
// `bun src/cli/main.ts …` (or the compiled `hoard` binary) starts here.

import { commandTree } from "./commands.ts";
import { runCli } from "./dispatch.ts";
import { killStrays } from "../kernel/spawn.ts";
import { installSignalHandlers } from "./signals.ts";
import pkg from "../../package.json" with { type: "json" };

// SIGINT/SIGTERM/SIGHUP: children stopped, runs in progress finished `aborted`, exit 130/143/129
installSignalHandlers({ json: process.argv.includes("--json") });

const code = await runCli(commandTree(pkg.version), process.argv.slice(2), pkg.version);
// nothing a command started may keep hoard waiting or outlive it (e.g. a warm-up listing for a
// push that a check then refused)
killStrays();
process.exitCode = code;
