#!/bin/sh
# check-symbols.sh - the exported API, the header and the man pages agree:
#   1. every function exported by lib/.libs/libhamt.so (nm -D, types T, W
#      and i) is named in the NAME section (.Nm) of some man page, and is
#      declared HAMT_API in include/hamt.h right below a comment that names
#      it and has a "Thread safety:" line (one case per exported function);
#   2. every HAMT_API function in include/hamt.h is exported;
#   3. every name in a page's NAME section is an exported function (except
#      the overview page hamt(3)), so no page outlives its function.
# `make check` runs it from the top build directory, where man/local.mk
# writes man/check.env (NM, MANPAGES); by hand: sh man/check-symbols.sh
# Ends with "check-symbols: N passed, N failed"; exits 1 on any failure.
set -u
srcdir=${srcdir:-$(dirname "$0")/..}
[ -f man/check.env ] && . ./man/check.env
NM=${NM:-nm}
MANPAGES=${MANPAGES:-$(cd "$srcdir" && echo man/*.3)}
LIB=${HAMT_SHARED_LIB:-lib/.libs/libhamt.so}
HEADER=$srcdir/include/hamt.h
tally_name=check-symbols
. "$srcdir/test/tally.sh"

if [ ! -f "$LIB" ]; then
    fail "$LIB not found (is the library built, and shared?)"
    finish
fi
tmp=${TMPDIR:-/tmp}/hamt-symbols.$$
mkdir "$tmp" || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

# Exported functions (ifuncs, such as target_clones, show as "i").
$NM -D --defined-only "$LIB" |
    awk '$2 == "T" || $2 == "W" || $2 == "i" { print $3 }' |
    sed 's/@.*//' | sort -u >"$tmp/exported"
if [ ! -s "$tmp/exported" ]; then
    fail "$NM -D --defined-only found no exported function in $LIB"
fi

# Names in the NAME sections of the pages (the overview "hamt" excluded).
pages=
for p in $MANPAGES; do
    [ -f "$srcdir/$p" ] && pages="$pages $srcdir/$p"
done
sh "$srcdir/man/names.sh" $pages |
    awk '$2 != "hamt" { print $2 }' | sort -u >"$tmp/named"

# HAMT_API functions of the header: "name yes" when the line right above
# the declaration closes a comment that mentions the name, "name nots" when
# that comment has no "Thread safety:" line (STYLE.md), else "name no".
awk '
    /\/\*/ { incomment = 1; text = "" }
    incomment { text = text " " $0 }
    /\*\// { if (incomment) { incomment = 0; comment = text; end = NR }; next }
    /^HAMT_API[ \t]/ {
        if (match($0, /[A-Za-z_][A-Za-z0-9_]*\(/)) {
            name = substr($0, RSTART, RLENGTH - 1)
            ok = (end == NR - 1 && index(comment, name) > 0) ? "yes" : "no"
            if (ok == "yes" && index(comment, "Thread safety:") == 0)
                ok = "nots"
            print name, ok
        }
    }
' "$HEADER" | sort -u >"$tmp/declared"

# 1. exported -> page and header comment.
while read -r sym; do
    why=
    grep -qx "$sym" "$tmp/named" ||
        why="$why; no man page names it (.Nm in a NAME section)"
    if ! grep -q "^$sym " "$tmp/declared"; then
        why="$why; include/hamt.h does not declare it HAMT_API"
    elif grep -qx "$sym nots" "$tmp/declared"; then
        why="$why; its comment in include/hamt.h has no \"Thread safety:\" line"
    elif ! grep -qx "$sym yes" "$tmp/declared"; then
        why="$why; no comment naming it right above its declaration in include/hamt.h"
    fi
    if [ -n "$why" ]; then
        fail "$sym is exported by $LIB$why"
    else
        pass "$sym: man page and header comment with its thread safety"
    fi
done <"$tmp/exported"

# 2. declared -> exported.
while read -r sym ok; do
    grep -qx "$sym" "$tmp/exported" ||
        fail "$sym is declared HAMT_API in include/hamt.h but $LIB does not export it"
done <"$tmp/declared"

# 3. named -> exported.
while read -r sym; do
    grep -qx "$sym" "$tmp/exported" ||
        fail "$sym is named by a man page but $LIB does not export it"
done <"$tmp/named"

finish
