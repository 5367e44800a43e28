// The built-in plugins, listed in one place: they register in this fixed order, before any
// third-party plugin, exactly as third-party plugins do (through the public plugin API).

import type { Plugin } from "../kernel/plugin.ts";
import fsPlugin from "../../plugins/fs/index.ts";
import contentHashPlugin from "../../plugins/content-hash/index.ts";
import rclonePlugin from "../../plugins/rclone/index.ts";
import kopiaPlugin from "../../plugins/kopia/index.ts";
import resticPlugin from "../../plugins/restic/index.ts";
import stalenessPlugin from "../../plugins/staleness/index.ts";

export const BUILTIN_PLUGINS: Plugin[] = [fsPlugin, contentHashPlugin, rclonePlugin, kopiaPlugin, resticPlugin, stalenessPlugin];
