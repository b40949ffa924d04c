#!/bin/sh
# debian.sh TARBALL - the Debian packages, as a Debian 12 user gets them:
#   1. dpkg-buildpackage -us -uc -b builds libhamt0 and libhamt-dev from the
#      unpacked `make dist` tarball (a clean tree; the packaging is in
#      debian/, shipped in the tarball).  DEB_BUILD_OPTIONS="nocheck
#      parallel=2": make check runs in its own step of test/run-all;
#   2. lintian reports no error on the result (warnings are printed);
#   3. dpkg -i installs both packages; libhamt-dev holds the header, the
#      .pc file, the .so link, and every man page and link page
#      (hamt_remove(3) is a link to hamt_set(3));
#   4. the README's example builds with `cc example.c $(pkg-config --cflags
#      --libs hamt)` and runs against the installed packages, and so does
#      test/installed/gc_user.c (the collector's interface comes along);
#   5. the packages are removed again unless they were installed before.
# Needs root (dpkg -i), dpkg-dev, debhelper and lintian (./bootstrap
# installs them).  test/run-all runs it from the top source directory with
# the tarball it made.  Ends with "debian: N passed, N failed".
set -u
srcdir=${srcdir:-$(dirname "$0")/..}
tarball=${1:-}
CC=${CC:-cc}
tally_name=debian
. "$srcdir/test/tally.sh"
now() { date +%s; }

if [ "$(id -u)" != 0 ]; then
    fail "needs root (dpkg -i); CI runs as root"
    finish
fi
for tool in dpkg-buildpackage dh lintian; do
    command -v $tool >/dev/null 2>&1 || { fail "$tool is missing: run ./bootstrap"; finish; }
done
case $tarball in
/*) ;;
"") fail "usage: debian.sh TARBALL (from make dist)"; finish ;;
*) tarball=$(pwd)/$tarball ;;
esac
[ -f "$tarball" ] || { fail "no tarball $tarball"; finish; }

work=$(mktemp -d "${TMPDIR:-/tmp}/hamt-debian.XXXXXX") || exit 1
installed_before=
for p in libhamt0 libhamt-dev; do
    dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -q 'ok installed' &&
        installed_before="$installed_before $p"
done
cleanup() {
    if [ -z "$installed_before" ]; then
        dpkg -r libhamt-dev libhamt0 >/dev/null 2>&1
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# 1. Build.
tar xzf "$tarball" -C "$work" || { fail "untar $tarball"; finish; }
src=$(ls -d "$work"/libhamt-*/ | head -n 1)
t0=$(now)
if (cd "$src" && DEB_BUILD_OPTIONS="nocheck parallel=2" \
    dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
    pass "dpkg-buildpackage -us -uc -b ($(($(now) - t0)) s)"
else
    tail -40 "$work/build.log" | sed 's/^/    /'
    fail "dpkg-buildpackage -us -uc -b"
    finish
fi
lib=$(ls "$work"/libhamt0_*.deb 2>/dev/null)
dev=$(ls "$work"/libhamt-dev_*.deb 2>/dev/null)
changes=$(ls "$work"/libhamt_*.changes 2>/dev/null)
if [ -f "$lib" ] && [ -f "$dev" ]; then
    pass "built ${lib##*/} and ${dev##*/}"
else
    ls "$work" | sed 's/^/    /'
    fail "the two packages were not built"
    finish
fi

# 2. lintian: errors fail, warnings are shown.
t0=$(now)
lintian --fail-on error "$changes" >"$work/lintian.log" 2>&1
rc=$?
grep -v '^running with root privileges' "$work/lintian.log" | sed 's/^/    lintian: /'
if [ $rc -eq 0 ]; then
    pass "lintian reports no error ($(($(now) - t0)) s)"
else
    fail "lintian (exit status $rc)"
fi

# 3. Install, and look at what libhamt-dev holds.
if dpkg -i "$lib" "$dev" >"$work/dpkg.log" 2>&1; then
    pass "dpkg -i libhamt0 libhamt-dev"
else
    sed 's/^/    /' "$work/dpkg.log"
    fail "dpkg -i"
    finish
fi
files=$(dpkg -L libhamt-dev)
for f in /usr/include/hamt.h pkgconfig/hamt.pc /libhamt.so \
    /usr/share/man/man3/hamt.3.gz /usr/share/man/man3/hamt_set.3.gz \
    /usr/share/man/man3/hamt_cell_wait.3.gz; do
    if echo "$files" | grep -q -- "$f\$"; then
        pass "libhamt-dev holds $f"
    else
        fail "libhamt-dev lacks $f"
    fi
done
link=$(readlink /usr/share/man/man3/hamt_cell_wait.3.gz)
if [ "$link" = hamt_cell.3.gz ]; then
    pass "hamt_cell_wait(3) is a link to hamt_cell(3)"
else
    fail "hamt_cell_wait(3) is not a link to hamt_cell(3) (readlink: '$link')"
fi

# 4. Build against the packages, as the README says.
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR LD_LIBRARY_PATH
awk '/^## Example/ { e = 1 } e && /^```c$/ { c = 1; next } c && /^```$/ { exit } c' \
    "$srcdir/README.md" >"$work/example.c"
cp "$srcdir/test/installed/gc_user.c" "$work/gc_user.c"
for prog in example gc_user; do
    # shellcheck disable=SC2046
    if ! (cd "$work" && $CC $prog.c -o $prog $(pkg-config --cflags --libs hamt)) \
        >"$work/cc.log" 2>&1; then
        sed 's/^/    /' "$work/cc.log"
        fail "$prog.c does not build against the packages"
        continue
    fi
    so=$(ldd "$work/$prog" | grep 'libhamt\.so' | sed 's/^[[:space:]]*//')
    case $so in
    *" => /usr/lib/"*|*" => /lib/"*) ;;
    *) fail "$prog loads another libhamt: $so"; continue ;;
    esac
    if "$work/$prog" >"$work/out" 2>&1; then
        pass "$prog.c builds with pkg-config and runs ($so)"
        sed 's/^/    /' "$work/out"
    else
        sed 's/^/    /' "$work/out"
        fail "$prog runs"
    fi
done
finish
