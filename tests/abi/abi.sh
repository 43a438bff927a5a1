#!/bin/sh
# The ABI gate of librpo.so (docs/abi.md).
#
#   tests/abi/abi.sh check  LIBRARY   fails unless LIBRARY matches the baseline
#   tests/abi/abi.sh update LIBRARY   records LIBRARY as the new baseline, but
#                                     only when the change is compatible
#
# The baseline in tests/abi/ has three parts, each compared on its own so a
# failure says what changed:
#   symbols.txt    every exported symbol with its version node, sorted
#                  (name@@RPO_x.y); an export not listed, or a listed one
#                  missing or moved to another node, fails
#   librpo.abi     abidw's description of the exported functions' types;
#                  abidiff must find no removed or changed function (added
#                  ones are the business of symbols.txt)
#   constants.txt  the integer macros of include/rpo.h (status codes,
#                  settings, enumerations, stats, RPO_VERSION_MAJOR); a
#                  removed or renumbered one fails, a new one must be listed
#
# A compatible change (new symbols in a new version node, new constants) is
# recorded with `make abi-update`. An incompatible one is refused unless
# ABI_BREAK=1 and RPO_VERSION_MAJOR was raised (a new SONAME).
set -u

mode=${1:-}
lib=${2:-}
here=$(dirname "$0")
root=$here/../..
header=$root/include/rpo.h
headers_dir=$root/include
base_syms=$here/symbols.txt
base_abi=$here/librpo.abi
base_consts=$here/constants.txt

case $mode in check|update) ;; *)
    echo "usage: $0 check|update LIBRARY" >&2; exit 2 ;;
esac
if [ ! -f "$lib" ]; then
    echo "abi: no library at '$lib'" >&2; exit 2
fi
for tool in abidw abidiff readelf; do
    command -v $tool >/dev/null 2>&1 || {
        echo "abi: $tool is missing (abigail-tools, binutils; see tests/deps.sh)" >&2
        exit 2; }
done

tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT

# Defined dynamic symbols as name@@NODE (name@NODE for a non-default
# version). The version-definition symbols themselves (ABS) are skipped.
exported_symbols() {
    readelf -W --dyn-syms "$1" |
        awk '$5 == "GLOBAL" || $5 == "WEAK" {
                 if ($7 != "UND" && $7 != "ABS") print $8 }' |
        LC_ALL=C sort
}

# The integer macros of the public header, "NAME VALUE", sorted. MINOR and
# PATCH (and what is derived from them) change with every release and are
# not part of the binary interface; MAJOR is (it names the SONAME).
header_constants() {
    ${CC:-cc} -dM -E -x c "$header" |
        sed -n 's/^#define \(RPO_[A-Z0-9_]*\) (*\(-*[0-9][0-9]*\))*$/\1 \2/p' |
        grep -v -e '^RPO_VERSION_MINOR ' -e '^RPO_VERSION_PATCH ' |
        LC_ALL=C sort
}

abidw_baseline() {
    abidw --no-corpus-path --no-comp-dir-path --no-show-locs \
          --no-architecture --drop-undefined-syms --type-id-style hash \
          --headers-dir "$headers_dir" --drop-private-types "$1"
}

# The first baseline: nothing to compare with yet.
if [ "$mode" = update ] && [ ! -f "$base_syms" ] && [ ! -f "$base_abi" ] &&
   [ ! -f "$base_consts" ]; then
    : > "$base_syms"; : > "$base_consts"
    abidw_baseline "$lib" > "$base_abi" || exit 2
fi
for f in "$base_syms" "$base_abi" "$base_consts"; do
    [ -f "$f" ] || { echo "abi: baseline file $f is missing" >&2; exit 2; }
done

exported_symbols "$lib" > "$tmp/symbols.txt"
header_constants > "$tmp/constants.txt"
if [ ! -s "$tmp/constants.txt" ]; then
    echo "abi: could not read the constants of $header" >&2; exit 2
fi

problems=0
problem() { echo "abi: $*" >&2; problems=$((problems + 1)); }

# 1. Exports that are not rpo_ functions, or have no version node.
bad=$(grep -v -E '^rpo_[a-z0-9_]+@@?RPO_[0-9]+\.[0-9]+$' "$tmp/symbols.txt")
[ -n "$bad" ] && problem "exports outside the rules (rpo_ name in an RPO_x.y node):
$bad"

# 2. Baseline symbols that vanished or moved node: always incompatible.
gone=$(LC_ALL=C comm -23 "$base_syms" "$tmp/symbols.txt")
[ -n "$gone" ] && problem "symbols of the baseline no longer exported (removed or moved to another node):
$gone"

# 3. Types of the baseline's functions: removed or changed is incompatible.
abidiff --no-architecture --no-added-syms --drop-private-types \
        --headers-dir2 "$headers_dir" "$base_abi" "$lib" > "$tmp/abidiff.txt" 2>&1
abidiff_status=$?
if [ $abidiff_status -ne 0 ]; then
    problem "abidiff (exit $abidiff_status) finds the baseline's functions removed or changed:"
    cat "$tmp/abidiff.txt" >&2
fi

# 4. Constants of the baseline that vanished or changed value.
changed=$(LC_ALL=C comm -23 "$base_consts" "$tmp/constants.txt")
[ -n "$changed" ] && problem "constants of the baseline removed or renumbered (baseline value shown):
$changed"

added_syms=$(LC_ALL=C comm -13 "$base_syms" "$tmp/symbols.txt")
added_consts=$(LC_ALL=C comm -13 "$base_consts" "$tmp/constants.txt")

if [ "$mode" = check ]; then
    [ -n "$added_syms" ] && problem "exports not in tests/abi/symbols.txt:
$added_syms
  (a deliberate addition: put it in a new version node of lib/rpo.map, then run make abi-update)"
    [ -n "$added_consts" ] && problem "constants of include/rpo.h not in tests/abi/constants.txt:
$added_consts
  (a deliberate addition: run make abi-update)"
    if [ $problems -ne 0 ]; then
        echo "abi: FAILED: $problems problem(s); see docs/abi.md" >&2
        exit 1
    fi
    echo "abi: $(wc -l < "$base_syms") symbols, $(wc -l < "$base_consts") constants and their types match the baseline"
    exit 0
fi

# update
if [ $problems -ne 0 ]; then
    base_major=$(sed -n 's/^RPO_VERSION_MAJOR //p' "$base_consts")
    new_major=$(sed -n 's/^RPO_VERSION_MAJOR //p' "$tmp/constants.txt")
    if [ "${ABI_BREAK:-0}" != 1 ] || [ "$base_major" = "$new_major" ]; then
        echo "abi: NOT updated: the change above is incompatible. A break needs" >&2
        echo "     RPO_VERSION_MAJOR raised in include/rpo.h and ABI_BREAK=1." >&2
        exit 1
    fi
    # Still refuse exports that break the naming rules, even in a break.
    [ -n "$bad" ] && { echo "abi: NOT updated: fix the exports above" >&2; exit 1; }
    echo "abi: recording an ABI break (major $base_major -> $new_major)"
fi
abidw_baseline "$lib" > "$tmp/librpo.abi" || { echo "abi: abidw failed" >&2; exit 2; }
cp "$tmp/symbols.txt" "$base_syms"
cp "$tmp/constants.txt" "$base_consts"
cp "$tmp/librpo.abi" "$base_abi"
[ -n "$added_syms" ] && printf 'abi: symbols added:\n%s\n' "$added_syms"
[ -n "$added_consts" ] && printf 'abi: constants added:\n%s\n' "$added_consts"
echo "abi: baseline in tests/abi/ updated from $lib; review it with git diff tests/abi and commit it"
