#!/bin/sh
# args.sh - make check: hamt-bench refuses a malformed number in any of its
# options (exit 2 and a message naming the option) instead of reading it
# as 0 or as its leading digits, and accepts well-formed ones (checked with
# --list, which exits once the options before it are read).  Prints "N
# passed, N failed" for test/summary.sh.  Runs from the top build directory.
set -u
bench=./bench/hamt-bench
pass=0
fail=0
bad() {
    err=$("$bench" "$@" --list 2>&1 >/dev/null)
    rc=$?
    if [ $rc -eq 2 ] && echo "$err" | grep -q "^hamt-bench: $1 .*expected"; then
        pass=$((pass + 1))
    else
        echo "args: '$*' gave exit $rc, stderr: $err"
        fail=$((fail + 1))
    fi
}
good() {
    if "$bench" "$@" --list >/dev/null 2>&1; then
        pass=$((pass + 1))
    else
        echo "args: '$*' was refused"
        fail=$((fail + 1))
    fi
}
bad --runs abc
bad --runs 0
bad --runs 201
bad --runs 3x
bad --runs -1
bad --readers 1,,2
bad --readers 0
bad --readers 65
bad --readers 1,2,3,4,5,6,7,8,9
bad --n 10,abc
bad --n 0
bad --n 1000,
bad --phase 0
bad --phase -0.5
bad --phase nan
bad --settle -1
bad --settle x
bad --settle 1e9
bad --markers 0
bad --markers two
bad --case -1
good --runs 1 --runs 200 --readers 1,2,64 --n 1,1000000 --phase 0.05 \
    --settle 0 --settle 2.5 --case 0
good --markers 1
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
