#!/usr/bin/env bash
# The project's test command (`npm test`): makes sure the external tools the tests drive are
# present (rclone, restic, b3sum from Debian when running as root), runs bun test, prints "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

need=()
command -v rclone >/dev/null 2>&1 || need+=(rclone)
command -v b3sum >/dev/null 2>&1 || need+=(b3sum)
command -v restic >/dev/null 2>&1 || need+=(restic)  # test/restic, test/contract: a real restic
command -v zsh >/dev/null 2>&1 || need+=(zsh)    # test/shell: completion scripts run in their shells
command -v fish >/dev/null 2>&1 || need+=(fish)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${need[*]} (Debian packages)" >&2
    apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
  else
    echo "warning: missing ${need[*]}; the tests that drive them will fail (install with apt-get)" >&2
  fi
fi
[ -x node_modules/.bin/bun ] || npm install --no-audit --no-fund >&2

log=$(mktemp)
node_modules/.bin/bun test --timeout 120000 "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
pass=$(grep -E '^ *[0-9]+ pass$' "$log" | tail -1 | grep -Eo '[0-9]+')
fail=$(grep -E '^ *[0-9]+ fail$' "$log" | tail -1 | grep -Eo '[0-9]+')
rm -f "$log"
if [ -z "${pass}${fail}" ] && [ "$rc" -ne 0 ]; then fail=1; fi
echo "${pass:-0} passed, ${fail:-0} failed"
exit "$rc"
