# tally.sh - the PASS/FAIL bookkeeping the project's shell tests share.
# A script sets tally_name and sources this file:
#     tally_name=check-lint
#     . "$srcdir/test/tally.sh"
# then calls `pass WHAT` and `fail WHAT` for each case, and ends (early too)
# with `finish`, which prints "NAME: N passed, N failed" on its own line and
# exits 0 only when something passed and nothing failed: a script whose
# cases all went missing must not count as green.
passed=0
failed=0
pass() { echo "PASS: $*"; passed=$((passed + 1)); }
fail() { echo "FAIL: $*"; failed=$((failed + 1)); }
finish() {
    echo "$tally_name: $passed passed, $failed failed"
    [ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
    exit
}
