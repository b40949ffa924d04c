#!/bin/sh
# smoke.sh - make check: run every bench adapter on a small map and check
# its answers (insert, lookup hit and miss, remove, iterate, snapshot reads,
# short concurrent phases).  No speed is asserted.  Prints "N passed, N
# failed" for test/summary.sh.  Runs from the top build directory.
exec ./bench/hamt-bench --smoke
