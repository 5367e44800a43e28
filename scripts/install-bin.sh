#!/usr/bin/env bash
# Install the compiled binary (dist/hoard, from `npm run build`) as PREFIX/bin/hoard, PREFIX being
# --prefix DIR, else $PREFIX, else ~/.local; the copy is renamed into place (never half-written).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${PREFIX:-${HOME:?HOME is not set}/.local}"
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || { echo "error: --prefix needs a directory" >&2; exit 2; }; prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    -h|--help) echo "usage: npm run install-bin [-- --prefix DIR]   (default \$PREFIX, else ~/.local; installs DIR/bin/hoard)"; exit 0 ;;
    *) echo "error: unknown argument $1" >&2; echo "  next: npm run install-bin -- --prefix DIR" >&2; exit 2 ;;
  esac
done
case "$prefix" in /*) ;; *) prefix="$PWD/$prefix" ;; esac

src="$here/dist/hoard"
if [ ! -x "$src" ]; then
  echo "error: $src is missing" >&2
  echo "  next: npm run build (then npm run install-bin again)" >&2
  exit 1
fi
bin="$prefix/bin"
mkdir -p "$bin"
tmp="$(mktemp "$bin/.hoard.XXXXXX")"
trap 'rm -f "$tmp"' EXIT
cp "$src" "$tmp"
chmod 755 "$tmp"
mv -f "$tmp" "$bin/hoard"
trap - EXIT
echo "installed $bin/hoard ($("$bin/hoard" --version))"
case ":$PATH:" in
  *":$bin:"*) ;;
  *) echo "note: $bin is not on your PATH; add it, e.g. echo 'export PATH=\"$bin:\$PATH\"' >> ~/.profile" ;;
esac
