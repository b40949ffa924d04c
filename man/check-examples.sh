#!/bin/sh
# check-examples.sh - the example programs run and match their pages:
#   1. every man/examples/NAME.c was built (man/local.mk lists it) and the
#      program exits with status 0, within a time limit when timeout(1)
#      exists (one case per program);
#   2. every man/examples/*.c appears verbatim in a page, in the literal
#      display right after the comment line
#          .\" example man/examples/NAME.c
#      and every such comment names an existing file (one case each).
# `make check` builds the programs (check_PROGRAMS) and runs this script
# from the top build directory; by hand: sh man/check-examples.sh
# Ends with "check-examples: N passed, N failed"; exits 1 on any failure.
set -u
srcdir=${srcdir:-$(dirname "$0")/..}
[ -f man/check.env ] && . ./man/check.env
MANPAGES=${MANPAGES:-$(cd "$srcdir" && echo man/*.3)}
LIMIT=${HAMT_EXAMPLE_TIMEOUT:-300}
tally_name=check-examples
. "$srcdir/test/tally.sh"

tmp=${TMPDIR:-/tmp}/hamt-examples.$$
mkdir "$tmp" || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

run=
if command -v timeout >/dev/null 2>&1; then
    run="timeout $LIMIT"
fi

# 1. Run every program.
for c in "$srcdir"/man/examples/*.c; do
    [ -f "$c" ] || continue
    stem=${c##*/}
    stem=${stem%.c}
    bin=man/examples/$stem
    if [ ! -x "$bin" ]; then
        fail "$bin was not built: add it to check_PROGRAMS in man/local.mk"
        continue
    fi
    $run "./$bin" >"$tmp/out" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then
        pass "$bin runs"
        continue
    fi
    [ $rc -eq 124 ] && echo "$bin: killed after $LIMIT s"
    echo "$bin exited with status $rc; its output:"
    sed 's/^/    /' "$tmp/out"
    fail "$bin"
done

# 2. Pages and files agree.  In a page, "\e" stands for a backslash and a
# leading "\&" protects a line that starts with "." or "'".
: >"$tmp/embedded"
for p in $MANPAGES; do
    f=$srcdir/$p
    [ -f "$f" ] || continue
    for ex in $(sed -n 's/^\.\\" example \(man\/examples\/[A-Za-z0-9_.-]*\.c\)$/\1/p' "$f"); do
        echo "$ex" >>"$tmp/embedded"
        if [ ! -f "$srcdir/$ex" ]; then
            fail "$p embeds $ex, which does not exist"
            continue
        fi
        awk -v marker=".\\\\\" example $ex" '
            state == 0 && $0 == marker { state = 1; next }
            state == 1 { if ($0 ~ /^\.Bd -literal/) { state = 2; next } exit 1 }
            state == 2 { if ($0 == ".Ed") { exit 0 } print }
        ' "$f" | sed -e 's/^\\&//' -e 's/\\e/\\/g' >"$tmp/page.c"
        if diff -u "$srcdir/$ex" "$tmp/page.c" >"$tmp/diff"; then
            pass "$p shows $ex verbatim"
            continue
        fi
        echo "$p: the display after '.\\\" example $ex' is not that file:"
        sed 's/^/    /' "$tmp/diff"
        echo "    To make the display from the file (between .Bd -literal and .Ed):"
        echo "    sed -e 's/\\\\/\\\\e/g' -e \"s/^[.']/\\\\\\\\\\&&/\" $ex"
        fail "$p shows $ex"
    done
done
for c in "$srcdir"/man/examples/*.c; do
    [ -f "$c" ] || continue
    ex=man/examples/${c##*/}
    grep -qx "$ex" "$tmp/embedded" ||
        fail "$ex is shown by no page (add '.\\\" example $ex' and the display)"
done

finish
