#!/bin/sh
# Self-test of the ABI gate: a gate that cannot fail proves nothing. Copies
# the tree, breaks the copy in one way at a time, builds its library and
# expects tests/abi/abi.sh to refuse it with the matching message.
#
#   tests/abi/selftest.sh WORKDIR      (make check-abi runs it)
set -u
work=${1:?usage: $0 WORKDIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
rm -rf "$work"
mkdir -p "$work" || exit 2
work=$(cd "$work" && pwd)

failures=0

# fresh_copy NAME: the project without build outputs or git data.
fresh_copy() {
    dst=$work/$1
    mkdir -p "$dst"
    (cd "$root" && tar -cf - --exclude=./.git --exclude='./build*' \
        --exclude="./${work#"$root"/}" .) | tar -C "$dst" -xf -
}

# edit FILE SED-EXPR CHECK-REGEX: applies the edit; the regex must then
# match, so a mutation that no longer applies fails loudly.
edit() {
    sed -i "$2" "$dst/$1"
    grep -q -- "$3" "$dst/$1" || {
        echo "abi selftest: mutation of $1 did not apply; update tests/abi/selftest.sh" >&2
        failures=$((failures + 1)); return 1; }
}

# expect_refused NAME MESSAGE: builds the copy and runs the gate on it.
expect_refused() {
    if ! make -C "$dst" --no-print-directory -s BUILD=build CFLAGS="-O0 -g" \
            lib >"$dst/build.log" 2>&1; then
        echo "abi selftest: $1: the mutated copy does not build:" >&2
        cat "$dst/build.log" >&2
        failures=$((failures + 1)); return
    fi
    lib=$(ls "$dst"/build/librpo.so.*.*.* 2>/dev/null | head -n 1)
    if sh "$dst/tests/abi/abi.sh" check "$lib" >"$dst/gate.log" 2>&1; then
        echo "abi selftest: $1: the gate accepted it" >&2
        failures=$((failures + 1))
    elif ! grep -q -- "$2" "$dst/gate.log"; then
        echo "abi selftest: $1: refused, but without '$2':" >&2
        cat "$dst/gate.log" >&2
        failures=$((failures + 1))
    else
        echo "abi selftest: $1: refused as it should be"
    fi
}

fresh_copy removed
sed -i '/^[[:space:]]*rpo_status_string;/d' "$dst/lib/rpo.map"
if grep -q 'rpo_status_string' "$dst/lib/rpo.map"; then
    echo "abi selftest: mutation of lib/rpo.map did not apply; update tests/abi/selftest.sh" >&2
    failures=$((failures + 1))
else
    expect_refused "removed symbol" "no longer exported"
fi

fresh_copy unlisted &&
printf '%s\n' '#include "rpo.h"' \
    'RPO_API int rpo_abi_selftest_extra(void);' \
    'int rpo_abi_selftest_extra(void) { return 1; }' \
    > "$dst/lib/common/abi_selftest_extra.c" &&
printf '%s\n' 'RPO_99.0 { global: rpo_abi_selftest_extra; } RPO_1.0;' \
    >> "$dst/lib/rpo.map" &&
expect_refused "unlisted export" "not in tests/abi/symbols.txt"

fresh_copy signature &&
edit include/rpo.h 's/rpo_status_string(int status)/rpo_status_string(long status)/' \
    'rpo_status_string(long status)' &&
edit lib/common/version.c 's/rpo_status_string(int status)/rpo_status_string(long status)/' \
    'rpo_status_string(long status)' &&
expect_refused "changed signature" "abidiff"

fresh_copy constant &&
edit include/rpo.h 's/^\(#define RPO_ERR_SIZE[[:space:]]*\)(-2)/\1(-20)/' \
    '^#define RPO_ERR_SIZE[[:space:]]*(-20)' &&
expect_refused "renumbered constant" "renumbered"

if [ $failures -ne 0 ]; then
    echo "abi selftest: FAILED ($failures)" >&2
    exit 1
fi
rm -rf "$work"
