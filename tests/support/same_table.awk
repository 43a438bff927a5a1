# Compares two printouts of a program, word by word: the words must be the
# same, except numbers, which may differ by at most `tol` (so a last-digit
# change from another CPU's kernels or libm does not fail the check).
# Usage: awk -v tol=0.002 -f tests/support/same_table.awk EXPECTED ACTUAL
function is_number(w) { return w ~ /^[-+]?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$/ }
FNR == NR { want[FNR] = $0; nwant = FNR; next }
{
    got_lines = FNR
    n = split(want[FNR], a, /[ \t]+/)
    m = split($0, b, /[ \t]+/)
    if (n != m) { printf "line %d: %s\n   want: %s\n", FNR, $0, want[FNR]; bad = 1; next }
    for (i = 1; i <= n; i++) {
        if (a[i] == b[i]) continue
        if (is_number(a[i]) && is_number(b[i])) {
            d = a[i] - b[i]; if (d < 0) d = -d
            if (d <= tol) continue
        }
        printf "line %d: %s\n   want: %s\n", FNR, $0, want[FNR]; bad = 1; break
    }
}
END {
    if (got_lines != nwant) { printf "%d lines, want %d\n", got_lines, nwant; bad = 1 }
    exit bad
}
