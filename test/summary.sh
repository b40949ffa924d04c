#!/bin/sh
# summary.sh LOG... - add up the test cases of every test log into one line
# "N passed, N failed".  It reads Criterion's synthesis line, or the plain
# "N passed, N failed" line the other test programs print; a log with
# neither counts as one case, judged by Automake's .trs result.  A program
# that Automake saw fail adds at least one failure even if its counts did
# not say so (a crash after the last line).  A program Automake saw skip
# (exit 77) counts as one failure: nothing here may be skipped.  Criterion
# counts a crashed test in both Failing and Crashing; only Failing is
# added.  Exits 1 if anything failed, or if no test case was counted.
passed=0
failed=0
for log in "$@"; do
    trs=${log%.log}.trs
    if [ ! -f "$log" ] || [ ! -f "$trs" ]; then
        echo "summary: no result for ${log%.log}" >&2
        failed=$((failed + 1))
        continue
    fi
    counts=$(awk '
        /Synthesis: Tested:/ {
            gsub(/[|:]/, " "); p = 0; f = 0
            for (i = 1; i < NF; i++) {
                if ($i == "Passing") p = $(i + 1)
                if ($i == "Failing") f = $(i + 1)
            }
            found = 1 }
        /^([A-Za-z_-]+: *)?[0-9]+ passed, [0-9]+ failed/ {
            sub(/^[A-Za-z_-]+: */, ""); p = $1; f = $3; found = 1 }
        END { if (found) print p, f; else print "none" }' "$log")
    bad=0
    grep -q '^:test-result: \(FAIL\|ERROR\|XPASS\|SKIP\)' "$trs" && bad=1
    if [ "$counts" = none ]; then
        if [ $bad = 1 ]; then failed=$((failed + 1)); else passed=$((passed + 1)); fi
    else
        p=${counts% *}
        f=${counts#* }
        passed=$((passed + p))
        if [ $bad = 1 ] && [ "$f" -eq 0 ]; then f=1; fi
        failed=$((failed + f))
    fi
done
if [ $((passed + failed)) -eq 0 ]; then
    echo "summary: no test case was counted" >&2
    failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
