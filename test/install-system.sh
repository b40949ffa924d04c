#!/bin/sh
# install-system.sh - after `make install` as root into a directory that the
# dynamic loader finds through its cache (as /usr/local/lib, the default
# prefix's, is on Debian), the README's example builds and RUNS with no
# LD_LIBRARY_PATH and no manual ldconfig.
#
# So as not to touch /usr/local, it installs with prefix=<temporary dir>
# and lists <temporary dir>/lib in a file of /etc/ld.so.conf.d/ for the
# duration of the test, which is the situation of /usr/local/lib exactly;
# everything is removed again at the end (make uninstall, the file, and
# ldconfig).  Needs root: test/run-all runs it (CI runs as root), from the
# top build directory of a configured and built tree.  Ends with
# "install-system: N passed, N failed".
set -u
srcdir=${srcdir:-$(dirname "$0")/..}
MAKE=${MAKE:-make}
CC=${CC:-cc}
tally_name=install-system
. "$srcdir/test/tally.sh"
PATH=$PATH:/sbin:/usr/sbin

if [ "$(id -u)" != 0 ]; then
    fail "needs root (it installs and edits /etc/ld.so.conf.d/); CI runs as root"
    finish
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/hamt-system.XXXXXX") || exit 1
conf=/etc/ld.so.conf.d/zz-libhamt-test-$$.conf
cleanup() {
    MAKEFLAGS= $MAKE uninstall prefix="$dir/usr" >/dev/null 2>&1
    rm -f "$conf"
    ldconfig
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

echo "$dir/usr/lib" >"$conf"
mkdir -p "$dir/usr/lib"
ldconfig # The directory is now one the loader searches, like /usr/local/lib.

if MAKEFLAGS= $MAKE install prefix="$dir/usr" >"$dir/install.log" 2>&1; then
    pass "make install prefix=<dir listed in ld.so.conf.d>"
else
    tail -30 "$dir/install.log" | sed 's/^/    /'
    fail "make install"
    finish
fi
grep -i ldconfig "$dir/install.log" | sed 's/^/    install: /'

# The README's example: the first C block after "## Example".
awk '/^## Example/ { e = 1 } e && /^```c$/ { c = 1; next } c && /^```$/ { exit } c' \
    "$srcdir/README.md" >"$dir/example.c"
if ! grep -q 'hamt_set' "$dir/example.c"; then
    fail "no C example after '## Example' in README.md"
    finish
fi
# No rpath, no LD_LIBRARY_PATH: the loader must find the library itself.
if $CC -o "$dir/a.out" "$dir/example.c" -I"$dir/usr/include" -L"$dir/usr/lib" \
    -lhamt >"$dir/cc.log" 2>&1; then
    pass "the README example builds against the installed library"
else
    sed 's/^/    /' "$dir/cc.log"
    fail "the README example builds"
    finish
fi
if (unset LD_LIBRARY_PATH; "$dir/a.out") >"$dir/out" 2>&1; then
    so=$(unset LD_LIBRARY_PATH; ldd "$dir/a.out" | grep 'libhamt\.so' | sed 's/^[[:space:]]*//')
    case $so in
    *"$dir/usr/lib/"*) pass "./a.out runs right after make install ($so)" ;;
    *) fail "./a.out loaded another libhamt: $so" ;;
    esac
else
    sed 's/^/    /' "$dir/out"
    fail "./a.out after make install (the loader's cache was not updated)"
fi
finish
