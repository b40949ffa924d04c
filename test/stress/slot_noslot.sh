#!/bin/sh
# slot_noslot.sh - shows that test/stress/slot_stress can fail: the same
# readers with their hazard slot left out (slot_stress -N) must see a
# reclaimed snapshot or crash.  slot_stress -N runs them in a child process
# and passes only if the damage was detected; it prints its own
# "N passed, N failed" line for test/summary.sh.
exec "${builddir:-.}/test/stress/slot_stress" -N
