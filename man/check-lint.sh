#!/bin/sh
# check-lint.sh - check the man pages themselves:
#   1. `mandoc -Tlint -Wwarning` reports nothing for any page, every page
#      has the sections of STYLE.md section 8, and its .Dt title is its
#      file's name (one case per page);
#   2. every man/*.3 file is listed in dist_man3_MANS (man/local.mk);
#   3. no link name (a .Nm name that is not its page's own) is also a page
#      or a link of another page, so installing the links clobbers nothing.
# `make check` runs it from the top build directory, where man/local.mk
# writes man/check.env (MANDOC, MANPAGES); it also runs by hand from there
# or from the source tree: sh man/check-lint.sh
# Ends with "check-lint: N passed, N failed"; exits 1 on any failure.
set -u
srcdir=${srcdir:-$(dirname "$0")/..}
[ -f man/check.env ] && . ./man/check.env
MANDOC=${MANDOC:-mandoc}
MANPAGES=${MANPAGES:-$(cd "$srcdir" && echo man/*.3)}
SECTIONS="NAME|LIBRARY|SYNOPSIS|DESCRIPTION|RETURN VALUES|ERRORS|THREAD SAFETY|EXAMPLES|SEE ALSO"
tally_name=check-lint
. "$srcdir/test/tally.sh"
pages=

# 1. mandoc and sections, per page.
for p in $MANPAGES; do
    f=$srcdir/$p
    if [ ! -f "$f" ]; then
        fail "$p is listed in man/local.mk but does not exist"
        continue
    fi
    pages="$pages $f"
    ok=1
    out=$($MANDOC -Tlint -Wwarning "$f" 2>&1)
    rc=$?
    if [ $rc -ne 0 ] || [ -n "$out" ]; then
        echo "$p: mandoc -Tlint -Wwarning (exit status $rc) says:"
        echo "$out" | sed 's/^/    /'
        ok=0
    fi
    missing=$(echo "$SECTIONS" | tr '|' '\n' | while read -r s; do
        grep -q "^\.Sh \"*$s\"*\$" "$f" || printf ' "%s"' "$s"
    done)
    if [ -n "$missing" ]; then
        echo "$p: missing section(s):$missing"
        ok=0
    fi
    # The title names the page: .Dt is the file's name in capitals.
    want=$(basename "$p" .3 | tr '[:lower:]' '[:upper:]')
    if ! grep -q "^\.Dt $want 3\$" "$f"; then
        echo "$p: .Dt is not \"$want 3\": $(grep '^\.Dt' "$f")"
        ok=0
    fi
    if [ $ok = 1 ]; then
        pass "$p: mandoc -Tlint -Wwarning clean, all sections present, title"
    else
        fail "$p"
    fi
done

# 2. every page in the source tree is installed.
unlisted=
for f in "$srcdir"/man/*.3; do
    [ -f "$f" ] || continue
    p=man/${f##*/}
    case " $MANPAGES " in
    *" $p "*) ;;
    *) unlisted="$unlisted $p" ;;
    esac
done
if [ -n "$unlisted" ]; then
    fail "not listed in dist_man3_MANS (man/local.mk):$unlisted"
else
    pass "every man/*.3 is listed in dist_man3_MANS"
fi

# 3. link names collide with nothing.
if [ -n "$pages" ]; then
    dups=$(sh "$srcdir/man/names.sh" $pages | awk '
        { own[$1] = 1; if ($1 != $2) { link[$2]++; from[$2] = $1 } }
        END {
            for (n in link) {
                if (link[n] > 1) {
                    print n " is named by " link[n] " pages"
                } else if (n in own) {
                    print n " (named in " from[n] ".3) is also a page"
                }
            }
        }')
    if [ -n "$dups" ]; then
        echo "link pages would clobber each other:"
        echo "$dups" | sed 's/^/    /'
        fail "link names"
    else
        pass "link names are unique and clobber no page"
    fi
fi

finish
