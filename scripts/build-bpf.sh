#!/usr/bin/env bash
# Compile every bpf/*.bpf.c to dist/bpf/<name>.bpf.o. Rebuilds an object only when its
# source (or any bpf/*.h) is newer. Without clang it skips with a message and exit 0,
# so a TypeScript-only build still works; BPF-dependent tests will then report the
# missing objects themselves.
set -euo pipefail

script_dir="${BASH_SOURCE[0]%/*}"
[ "$script_dir" = "${BASH_SOURCE[0]}" ] && script_dir=.
root="$(cd "$script_dir/.." && pwd)"
src_dir="$root/bpf"
out_dir="$root/dist/bpf"
CLANG="${CLANG:-clang}"

if ! command -v "$CLANG" >/dev/null 2>&1; then
  echo "build-bpf: '$CLANG' not found; skipping BPF objects (run scripts/setup.sh: apt-get install clang llvm libbpf-dev)" >&2
  exit 0
fi

# Debian keeps asm/ headers (needed by linux/bpf.h) under the multiarch include dir.
if command -v gcc >/dev/null 2>&1; then
  triplet="$(gcc -dumpmachine)"
elif command -v dpkg-architecture >/dev/null 2>&1; then
  triplet="$(dpkg-architecture -qDEB_HOST_MULTIARCH)"
else
  triplet="$(uname -m)-linux-gnu"
fi

mkdir -p "$out_dir"
shopt -s nullglob
sources=("$src_dir"/*.bpf.c)
if [ ${#sources[@]} -eq 0 ]; then
  echo "build-bpf: no sources in $src_dir" >&2
  exit 0
fi

built=0
skipped=0
for src in "${sources[@]}"; do
  base="${src##*/}"
  name="${base%.c}"                      # counter.bpf
  out="$out_dir/$name.o"                 # dist/bpf/counter.bpf.o
  stale=0
  if [ ! -f "$out" ] || [ "$src" -nt "$out" ]; then
    stale=1
  else
    # Local headers this source includes with quotes (one level is enough here).
    while IFS= read -r h; do
      if [ -f "$src_dir/$h" ] && [ "$src_dir/$h" -nt "$out" ]; then stale=1; break; fi
    done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$src")
  fi
  if [ "$stale" -eq 0 ]; then
    skipped=$((skipped + 1))
    continue
  fi
  echo "build-bpf: $CLANG $base -> dist/bpf/$name.o"
  # Compile to a temp file so a failed build never leaves a fresh-looking object.
  "$CLANG" -O2 -g -target bpf -Wall -I"/usr/include/$triplet" -I"$src_dir" \
    -c "$src" -o "$out.tmp"
  mv -f "$out.tmp" "$out"
  built=$((built + 1))
done
echo "build-bpf: $built built, $skipped up to date"
