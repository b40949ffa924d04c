#!/bin/sh
# run-test.sh - LOG_COMPILER for make check.  Runs one test program (or
# script) and passes its exit status on; Criterion prints its
# "Synthesis: Tested: N | Passing: N | Failing: N | Crashing: N" line to
# stderr, which Automake's driver keeps in the .log for test/summary.sh.
prog=$1
shift
case "$prog" in
*.sh) exec "${SHELL:-/bin/sh}" "$prog" "$@" ;;
*) exec "$prog" "$@" ;;
esac
