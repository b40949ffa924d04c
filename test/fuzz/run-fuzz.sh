#!/bin/sh
# run-fuzz.sh [SECONDS] - build test/fuzz/fuzz_map with clang (libFuzzer,
# ASan, UBSan, collector off) and run it for SECONDS (default 60) from the
# seed corpus.  Prints the fuzzer's totals and one line "N passed, N failed":
# 1 passed if no crash and no mismatch, else 1 failed (exit status 1).
#
# Environment: srcdir (source tree, default: two levels above this script),
# builddir (where config.h is, default: srcdir), CLANG (default: clang).
# Scratch files, the binary and any crash input go to $builddir/_build-fuzz/.
set -u
secs=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
srcdir=${srcdir:-$(cd "$here/../.." && pwd)}
builddir=${builddir:-$srcdir}
CLANG=${CLANG:-clang}
out=$builddir/_build-fuzz
mkdir -p "$out" || exit 1
bin=$out/fuzz_map

popcnt=
grep -q '^#define HAMT_POPCNT 1' "$builddir/config.h" 2>/dev/null && popcnt=-mpopcnt
cflags="-std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined \
 -fno-sanitize-recover=all -DHAMT_NO_GC -DHAMT_BUILDING $popcnt \
 -I$builddir -I$srcdir/include -I$srcdir/lib"
sodium=$(pkg-config --cflags --libs libsodium 2>/dev/null || echo -lsodium)

fail() {
    echo "run-fuzz: $*" >&2
    echo "0 passed, 1 failed"
    exit 1
}

objs=
for f in gc hash node keys map iter debug hamt ops batch cell thread ctree; do
    [ -f "$srcdir/lib/$f.c" ] || fail "lib/$f.c is missing"
    extra=
    # Route the collector-off allocator through the fuzzer's tracker.
    [ $f = gc ] && extra="-Dmalloc=fuzz_malloc -Dcalloc=fuzz_calloc -Dfree=fuzz_free"
    # shellcheck disable=SC2086
    $CLANG $cflags $extra -c "$srcdir/lib/$f.c" -o "$out/lib-$f.o" ||
        fail "cannot compile lib/$f.c"
    objs="$objs $out/lib-$f.o"
done
# shellcheck disable=SC2086
$CLANG $cflags "$srcdir/test/fuzz/fuzz_map.c" $objs $sodium -lpthread \
    -o "$bin" || fail "cannot link fuzz_map"

rm -rf "$out/work"
mkdir -p "$out/work" "$out/crashes"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
"$bin" -max_total_time="$secs" -max_len=4096 -timeout=30 \
    -print_final_stats=1 -artifact_prefix="$out/crashes/" \
    "$out/work" "$srcdir/test/fuzz/corpus" >"$out/fuzz.out" 2>&1
rc=$?
grep -E 'fuzz_map:|stat::number_of_executed_units|Done [0-9]+ runs' \
    "$out/fuzz.out"
if [ $rc -ne 0 ]; then
    tail -40 "$out/fuzz.out" >&2
    echo "run-fuzz: FAILED (exit $rc); crash inputs in $out/crashes/" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
units=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' \
    "$out/fuzz.out" | tail -n 1)
[ "${units:-0}" -gt 0 ] || fail "the fuzzer ran no input (no executed units)"
echo "1 passed, 0 failed"
