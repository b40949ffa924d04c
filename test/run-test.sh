#!/bin/sh
# run-test.sh - LOG_COMPILER for make check.  Runs one test program (or
# script) and passes its exit status on; Criterion prints its
# "Synthesis: Tested: N | Passing: N | Failing: N | Crashing: N" line to
# stderr, which Automake's driver keeps in the .log for test/summary.sh.
#
# A Criterion program must run every test it has: its synthesis leaves
# skipped and disabled tests out of every count, so a test that did not run
# would vanish from the summary instead of failing.  So the number of tests
# it lists (--list) must equal the number it tested, and be above 0.  The
# CRITERION_* variables of the caller's environment (a test pattern, say)
# are dropped for the same reason.
prog=$1
shift
for v in $(env | sed -n 's/^\(CRITERION_[A-Za-z0-9_]*\)=.*/\1/p'); do
    unset "$v"
done
case "$prog" in
*.sh) exec /bin/sh "$prog" "$@" ;;
esac
if ! grep -q 'criterion_' "$prog" 2>/dev/null; then
    exec "$prog" "$@"
fi
want=$("$prog" --list 2>/dev/null |
    awk '/^[^ ].*: [0-9]+ tests?$/ { n += $(NF - 1) } END { print n + 0 }')
out=$(mktemp "${TMPDIR:-/tmp}/run-test.XXXXXX") || exit 99
"$prog" "$@" >"$out" 2>&1
rc=$?
cat "$out"
tested=$(sed -n 's/.*Synthesis: Tested: \([0-9]*\).*/\1/p' "$out" | tail -n 1)
rm -f "$out"
if [ "$rc" -eq 0 ] && { [ -z "$tested" ] || [ "$want" -eq 0 ] ||
    [ "$tested" -ne "$want" ]; }; then
    echo "run-test: $prog tested ${tested:-no} tests of the $want it has" \
        "(skipped or disabled tests count as failures)"
    rc=1
fi
exit "$rc"
