#!/usr/bin/env bash
# Runs CI (.ci/run) on a clean clone of HEAD as a fresh machine would: in a
# private mount namespace in which every program that belongs to a Debian
# package the fresh image lacks (../shared/fresh-machine-packages.txt) is
# hidden under /dev/null. What a developer installed by hand (wrk, socat,
# llvm, qemu...) is then missing, as it is on the CI machine.
#
#   bash scripts/ci-fresh.sh [FRESH_PACKAGE_LIST]
#
# Needs root (unshare -m, mount --bind). Programs that no Debian package owns
# (Node itself, pyenv's shims) are part of the image and stay visible.
set -euo pipefail
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
: > "$hide"
IFS=: read -ra dirs <<< "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
for dir in "${dirs[@]}"; do
  [ -d "$dir" ] || continue
  for bin in "$dir"/*; do
    [ -f "$bin" ] && [ -x "$bin" ] || continue
    real=$(readlink -f "$bin")
    owner=$(dpkg -S "$real" 2>/dev/null | head -n1 | cut -d: -f1 | cut -d, -f1) || true
    [ -n "$owner" ] || continue
    grep -qxF -- "$owner" "$fresh" && continue
    echo "$bin $owner" >> "$hide"
  done
done
echo "ci-fresh: hiding $(wc -l < "$hide") program(s) of packages a fresh machine lacks"
[ -s "$hide" ] && sed 's/^/  /' "$hide"

unshare -m bash -euo pipefail -c '
  mount --make-rprivate /
  while read -r bin _; do mount --bind /dev/null "$bin"; done < "$1"
  cd "$2" && bash .ci/run
' ci-fresh "$hide" "$work/handover"
