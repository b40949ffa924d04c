#!/bin/sh
# names.sh - print "page name" for every name in the NAME section (.Nm) of
# each mdoc page given, where page is the page's file name without its
# section suffix: "hamt_set hamt_set", "hamt_set hamt_remove", ...
#
# Used by man/local.mk (one link page per name that is not the page's own)
# and by man/symbols.test (every exported function must be named here).
# usage: names.sh page.3 ...
set -eu
awk '
FNR == 1 {
    insec = 0
    page = FILENAME
    sub(/.*\//, "", page)
    sub(/\.[0-9][a-z]*$/, "", page)
}
/^\.Sh[ \t]/ { insec = ($2 == "NAME"); next }
insec && /^\.Nm[ \t]/ {
    for (i = 2; i <= NF; i++) {
        n = $i
        sub(/,$/, "", n)
        if (n != "") {
            print page, n
        }
    }
}
' "$@"
