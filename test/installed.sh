#!/bin/sh
# installed.sh - what a user of the installed library builds, built the way
# hamt(3) and the README say: `cc prog.c $(pkg-config --cflags --libs hamt)`
# and nothing else, against a staged installation (make install
# DESTDIR=<temporary directory>, found through PKG_CONFIG_PATH and
# PKG_CONFIG_SYSROOT_DIR):
#   - every man/examples/*.c, built and run (one case each);
#   - test/installed/gc_user.c, which calls GC_MALLOC() and
#     GC_pthread_create() as hamt(3) and hamt_thread(3) tell programs to:
#     the collector must come with pkg-config's flags (Requires: bdw-gc);
#   - each program runs with the staged libhamt.so (checked with ldd), not
#     with one installed elsewhere on the machine.
# `make check` runs it from the top build directory (srcdir set by the test
# driver; CC, MAKE, SAN_CFLAGS and libdir come from test/check.env, written
# by test/local.mk).  Ends with "installed: N passed, N failed".
set -u
srcdir=${srcdir:-$(dirname "$0")/..}
[ -f test/check.env ] && . ./test/check.env
CC=${CC:-cc}
MAKE=${MAKE:-make}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}
SAN_CFLAGS=${SAN_CFLAGS:-}
libdir=${libdir:-/usr/local/lib}
tally_name=installed
. "$srcdir/test/tally.sh"

stage=$(mktemp -d "${TMPDIR:-/tmp}/hamt-installed.XXXXXX") || exit 1
trap 'rm -rf "$stage"' EXIT
trap 'exit 1' INT TERM

# A nested make: not part of the caller's jobserver.
if MAKEFLAGS= MFLAGS= $MAKE install DESTDIR="$stage/root" >"$stage/install.log" 2>&1; then
    pass "make install DESTDIR=<stage>"
else
    sed 's/^/    /' "$stage/install.log" | tail -30
    fail "make install DESTDIR=<stage>"
    finish
fi

PKG_CONFIG_PATH=$stage/root$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
PKG_CONFIG_SYSROOT_DIR=$stage/root
export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
if ! flags=$($PKG_CONFIG --cflags --libs hamt 2>"$stage/pc.err"); then
    sed 's/^/    /' "$stage/pc.err"
    fail "pkg-config --cflags --libs hamt"
    finish
fi
echo "pkg-config --cflags --libs hamt: $flags"
case " $flags " in
*" -lgc "*) pass "pkg-config --libs hamt gives the collector (-lgc)" ;;
*) fail "pkg-config --libs hamt lacks -lgc: a program that calls GC_MALLOC() as hamt(3) says cannot link" ;;
esac

run=
command -v timeout >/dev/null 2>&1 && run="timeout 300"
mkdir "$stage/bin"
for c in "$srcdir"/man/examples/*.c "$srcdir"/test/installed/*.c; do
    [ -f "$c" ] || continue
    stem=${c##*/}
    stem=${stem%.c}
    bin=$stage/bin/$stem
    # shellcheck disable=SC2086
    if ! $CC $SAN_CFLAGS -o "$bin" "$c" $flags >"$stage/cc.log" 2>&1; then
        echo "$CC $SAN_CFLAGS -o $stem $c $flags:"
        sed 's/^/    /' "$stage/cc.log"
        fail "$stem does not build with pkg-config's flags"
        continue
    fi
    so=$(LD_LIBRARY_PATH=$stage/root$libdir ldd "$bin" | grep 'libhamt\.so')
    case $so in
    *"$stage/root$libdir/"*) ;;
    *)
        echo "    ldd: $so"
        fail "$stem does not load the staged libhamt.so"
        continue
        ;;
    esac
    if LD_LIBRARY_PATH=$stage/root$libdir $run "$bin" >"$stage/out" 2>&1; then
        pass "$stem builds against the installed library and runs"
    else
        echo "$stem exited with status $?; its output:"
        sed 's/^/    /' "$stage/out"
        fail "$stem runs"
    fi
done
finish
