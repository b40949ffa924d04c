#!/bin/sh
# report.sh - publish a bench run: copy its headline, summary and pictures
# into bench/results/, then rewrite the "Latest figures" part of
# bench/README.md and the headline table of the top README.md from
# bench/results/headline.csv.  The figures in the
# README are never edited by hand; run this instead.
#
#   bench/report.sh bench/out     after make bench-full (or make bench)
#   bench/report.sh               only regenerate the README from results/
#
# bench/results/summary.csv (every series' median, min and max) is copied
# for whoever wants to dig, but is not under version control (.gitignore):
# a full run changes thousands of its lines.  headline.csv and the
# pictures are.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
results=$here/results
readme=$here/README.md

if [ $# -gt 1 ]; then
    echo "usage: $0 [OUTDIR]" >&2
    exit 2
fi
if [ $# -eq 1 ]; then
    out=$1
    if [ ! -f "$out/headline.csv" ]; then
        echo "$0: no $out/headline.csv: run make bench or make bench-full" >&2
        exit 1
    fi
    mkdir -p "$results"
    cp "$out/headline.csv" "$results/"
    [ -f "$out/summary.csv" ] && cp "$out/summary.csv" "$results/"
    for p in ns_per_op read_throughput breakpoint gc_pauses budget_curve; do
        [ -f "$out/$p.png" ] && cp "$out/$p.png" "$results/"
    done
fi
if [ ! -f "$results/headline.csv" ]; then
    echo "$0: no $results/headline.csv" >&2
    exit 1
fi

begin='<!-- figures: written by bench/report.sh from bench/results/; do not edit -->'
end='<!-- end of figures -->'
if ! grep -qF "$begin" "$readme" || ! grep -qF "$end" "$readme"; then
    echo "$0: $readme lacks the figure markers" >&2
    exit 1
fi

figures=$(mktemp)
trap 'rm -f "$figures" "$figures.new" "$figures.top"' EXIT

# headline.csv: "# hamt-bench <stamp>" and "# skipped: ..." comment lines,
# a header, then target,libhamt,reference,unit,ratio,goal,verdict with the
# text fields in double quotes (they hold commas).
awk '
function field(s,    out, q, c, i) {
    # Splits s into F[1..NF_] at commas outside double quotes.
    NF_ = 1; out = ""; q = 0
    for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1)
        if (c == "\"") { q = !q; continue }
        if (c == "," && !q) { F[NF_++] = out; out = ""; continue }
        out = out c
    }
    F[NF_] = out
}
/^# hamt-bench / {
    sub(/^# hamt-bench /, "")
    printf "Run of %s (`bench/results/headline.csv`).\n", $0
    next
}
/^# skipped: / { sub(/^# /, ""); skipped = skipped "- " $0 "\n"; next }
/^target,/ {
    if (skipped != "") { printf "\n%s", skipped }
    print ""
    print "| target | libhamt | reference | ratio | goal | verdict |"
    print "| --- | ---: | ---: | ---: | ---: | --- |"
    next
}
/^"/ {
    field($0)
    # The breakpoint row by its name (a target may have no unit either).
    if (F[1] == "copy-on-write breakpoint N") {
        bp = F[2]
        next
    }
    # A goal with a unit ("<= 10 ms") is absolute: no ratio to show.
    ratio = (F[6] ~ /[a-zA-Z/]$/ || F[5] == "") ? "" : sprintf("%.2fx", F[5])
    # An info row may have no reference (empty field): show none.
    ref = F[3] == "" ? "" : sprintf("%.4g %s", F[3], F[4])
    printf "| %s | %.4g %s | %s | %s | %s | %s |\n", \
        F[1], F[2], F[4], ref, ratio, F[6], F[7]
}
END {
    if (bp != "") {
        if (bp + 0 > 0) {
            printf "| copy-on-write breakpoint | path copying wins from N = %s | | | | |\n", bp
        } else {
            print "| copy-on-write breakpoint | path copying never wins for good | | | | |"
        }
    }
}' "$results/headline.csv" >"$figures"

{
    echo
    for p in ns_per_op:"ns per operation" \
             read_throughput:"reader throughput under a writer" \
             breakpoint:"copy-on-write breakpoint" \
             gc_pauses:"collector pauses" \
             budget_curve:"the writer against the budget between collections"; do
        f=${p%%:*}
        if [ -f "$results/$f.png" ]; then
            echo "![${p#*:}](results/$f.png)"
        fi
    done
} >>"$figures"

# Everything up to the begin marker, the figures, the end marker onwards.
awk -v begin="$begin" -v end="$end" -v figs="$figures" '
$0 == begin { print; print ""; while ((getline l < figs) > 0) print l; print ""; skip = 1; next }
$0 == end { skip = 0 }
!skip { print }' "$readme" >"$figures.new"
cat "$figures.new" >"$readme"
echo "bench/README.md: figures rewritten from $results/headline.csv"

# The top README shows a few of the same rows: the ones a newcomer asks
# about first.  Each pattern picks the rows whose target starts with it.
top=$here/../README.md
tbegin='<!-- headline: written by bench/report.sh from bench/results/; do not edit -->'
tend='<!-- end of headline -->'
if ! grep -qF "$tbegin" "$top" || ! grep -qF "$tend" "$top"; then
    echo "$0: $top lacks the headline markers" >&2
    exit 1
fi
awk '
BEGIN {
    n = split("lookup hit vs ghash|lookup hit, 16-key|persistent insert vs ghash, N = 1M|" \
              "persistent remove vs ghash, N = 1M|bytes per entry|" \
              "readers (slot) under 1 writer|reader lookup rate during collections / outside: slot|" \
              "writer updates/s (1 reader)|build via one batch (hamt_batch_set_many)|" \
              "k=1000 updates: k sets / batch_set_many|one hash, ordered: hamt_set build", want, "|")
}
/^Run of / { print; print ""; next }
/^\| target \|/ || /^\| --- \|/ { print; next }
/^\| / {
    for (i = 1; i <= n; i++) {
        if (index($0, "| " want[i]) == 1) { print; next }
    }
}' "$figures" >"$figures.top"
awk -v begin="$tbegin" -v end="$tend" -v figs="$figures.top" '
$0 == begin { print; while ((getline l < figs) > 0) print l; skip = 1; next }
$0 == end { skip = 0 }
!skip { print }' "$top" >"$figures.new"
cat "$figures.new" >"$top"
echo "README.md: headline rewritten from $results/headline.csv"
