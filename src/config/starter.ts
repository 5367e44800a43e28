// The starter config hoard writes for a new user: every key explained, examples commented out,
// valid as written (only `node` and `db` are set).

import { tomlString } from "./edit.ts";

/** A commented starter config.toml. Only `node` and `db` are active; everything else is an example to uncomment. */
export function starterConfig(opts: { node: string; db: string }): string {
  return `# hoard configuration (TOML).
#
# hoard indexes local directory trees ("volumes") by BLAKE3, pushes them to destinations,
# verifies what arrived, and deletes a local file ("offload") only when every destination
# the volume requires holds verified, fresh evidence for that exact content.
#
# Unknown keys are errors, so a typo is reported instead of silently ignored.
# Paths must be absolute (~ is not expanded). Durations look like "30d", "12h", "1h30m".
# Secrets (passwords, keys) can be written as { env = "VARIABLE" }: hoard reads the
# variable when it starts, so the secret never has to be stored in this file. hoard wrote
# this file readable by you only (0600); \`hoard doctor\` warns if a file holding a secret
# written literally is readable by others. Volume hooks never see those variables.

# This machine's name. Every file's origin and every run record names it: keep it stable,
# and give each machine that shares destinations its own name.
node = ${tomlString(opts.node)}

# The SQLite database with the index, runs and evidence (absolute path).
# --db and $HOARD_DB override it.
db = ${tomlString(opts.db)}

# Extra plugins (destination types, policies), by path. Relative paths are resolved from
# the directory of this file.
# plugins = ["./plugins/my-destination.ts"]


# ---------------------------------------------------------------------------- volumes
#
# A volume is a named local directory tree. Names use a-z 0-9 . _ - (at most 64).
# Volumes and destinations on local paths must be disjoint: none may lie inside another
# (symlinks are resolved when checking).
#
# [volumes.photos]
# path = "/home/me/Pictures"
#
#   path              the root of the tree (absolute, required)
#   sync_to           destinations \`hoard sync\` pushes this volume to (default [])
#   offload_requires  destinations that must all hold verified, fresh evidence for a file
#                     before \`hoard offload\` may delete the local copy (default [];
#                     offload refuses to run without a policy)
#
# sync_to = ["nas"]
# offload_requires = ["nas"]
#
# Optional: a command hoard runs for this volume, executed directly (no shell), so write
# the program and each argument as separate strings. It is stopped after \`timeout\`
# (default "1h").
#
# [volumes.photos.hook]
# command = ["/usr/local/bin/notify", "photos"]
# timeout = "10m"


# ------------------------------------------------------------------------ destinations
#
# A destination is somewhere copies live. \`type\` picks the plugin that handles it; the
# other keys belong to that type (\`hoard plugins\` lists the types loaded). A destination
# must be initialised once with \`hoard dest init NAME\` before anything is pushed to it.
#
# A plain directory (built in, needs no tools), e.g. a mounted NAS share:
#
# [destinations.nas]
# type = "fs"
# path = "/mnt/nas/hoard"
#
# An rclone remote (needs the rclone binary):
#
# [destinations.cloud]
# type = "rclone"
# remote = "b2:my-bucket/hoard"
#
# A kopia repository (needs the kopia binary; the password comes from the environment):
#
# [destinations.vault]
# type = "kopia"
# repository = "/mnt/backup/kopia"
# password = { env = "KOPIA_PASSWORD" }
`;
}
