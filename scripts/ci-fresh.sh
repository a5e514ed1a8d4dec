#!/usr/bin/env bash
# Runs CI (.ci/run) on a clean clone of HEAD as a fresh machine would: in a
# private mount namespace in which every program that belongs to a Debian
# package the fresh image lacks (../shared/fresh-machine-packages.txt) is
# hidden under /dev/null. What a developer installed by hand (wrk, socat,
# llvm, qemu...) is then missing, as it is on the CI machine.
#
#   bash scripts/ci-fresh.sh [--list] [FRESH_PACKAGE_LIST]
#
# --list only prints what would be hidden.
# Needs root (unshare -m, mount --bind). Programs that no Debian package owns
# (Node itself, pyenv's shims) are part of the image and stay visible.
set -euo pipefail
list_only=false
if [ "${1:-}" = --list ]; then list_only=true; shift; fi
root=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
fresh=${1:-$root/../shared/fresh-machine-packages.txt}
[ -f "$fresh" ] || { echo "ci-fresh: no package list at $fresh" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "ci-fresh: needs root (unshare -m, mount --bind)" >&2; exit 2; }

work=$(mktemp -d /tmp/handover-ci-fresh.XXXXXX)
trap 'rm -rf "$work"' EXIT
git clone -q "$root" "$work/handover"
# .ci/run reads ../shared like the real CI does.
[ -d "$root/../shared" ] && ln -s "$(cd "$root/../shared" && pwd)" "$work/shared"

hide="$work/hidden.txt"
# Every executable on the usual PATH, its real file, and the package that
# owns that file (one dpkg query for all of them).
for dir in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
  [ -d "$dir" ] || continue
  for bin in "$dir"/*; do
    [ -f "$bin" ] && [ -x "$bin" ] && printf '%s\t%s\n' "$bin" "$(readlink -f "$bin")"
  done
done > "$work/programs.tsv"
# dpkg knows a file by the path its package ships (/bin/ls under usrmerge,
# not /usr/bin/ls): ask for both the listed and the real path.
cut -f1,2 "$work/programs.tsv" | tr '\t' '\n' | sort -u | xargs -r dpkg -S 2>/dev/null \
  | sed -n -e '/^diversion by /d' -e 's/^\([^:]*\)\(:[a-z0-9]*\)\{0,1\}: \(\/.*\)$/\3\t\1/p' > "$work/owners.tsv" || true
awk -F'\t' -v fresh="$fresh" '
  BEGIN { while ((getline line < fresh) > 0) ok[line] = 1 }
  FILENAME == ARGV[1] { split($2, pkgs, ", "); owner[$1] = pkgs[1]; next }
  { o = ($1 in owner) ? owner[$1] : (($2 in owner) ? owner[$2] : "") }
  o != "" && !(o in ok) { print $1, o }
' "$work/owners.tsv" "$work/programs.tsv" > "$hide"
echo "ci-fresh: hiding $(wc -l < "$hide") program(s) of packages a fresh machine lacks"
[ -s "$hide" ] && sed 's/^/  /' "$hide"
$list_only && exit 0

unshare -m bash -euo pipefail -c '
  mount --make-rprivate /
  while read -r bin _; do mount --bind /dev/null "$bin"; done < "$1"
  cd "$2" && bash .ci/run
' ci-fresh "$hide" "$work/handover"
