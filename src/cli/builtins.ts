// The built-in plugins beyond fs and the content-hash policy (rclone, kopia, restic, staleness), listed in
// one place so they register in a fixed order, exactly like third-party plugins.

import type { Plugin } from "../kernel/plugin.ts";
import stalenessPlugin from "../../plugins/staleness/index.ts";
import kopiaPlugin from "../../plugins/kopia/index.ts";
import rclonePlugin from "../../plugins/rclone/index.ts";
import resticPlugin from "../../plugins/restic/index.ts";

export const extraBuiltins: Plugin[] = [rclonePlugin, kopiaPlugin, resticPlugin, stalenessPlugin];
