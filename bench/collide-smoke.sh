#!/bin/sh
# collide-smoke.sh - make check's run of bench/hamt-collide at a small size:
# every build way, lookup and remove must give the right answers (the
# program exits 1 when one does not).  Timing is printed, never checked.
set -u
out=$(./bench/hamt-collide 2000 1 200) || {
    echo "$out"
    echo "collide-smoke: FAILED"
    echo "0 passed, 1 failed"
    exit 1
}
echo "$out"
for row in distinct ordered unordered; do
    echo "$out" | grep -q "^$row " || {
        echo "collide-smoke: no $row row"
        echo "0 passed, 1 failed"
        exit 1
    }
done
echo "1 passed, 0 failed"
