#!/bin/sh
# header-strict.sh - the public header under strict compilers:
#   C:   test/strict_header.c with -std=c99, c11 and c17, each without and
#        with -D_POSIX_C_SOURCE=200809L, -pedantic -Wall -Wextra -Werror;
#   C++: test/cxx_header.cc with -std=c++11 and c++17, -pedantic -Wall
#        -Wextra -Werror (test/cxx_header, built by make, also links and
#        runs it with the configured C++ compiler).
# Each with gcc/g++ and clang/clang++ (./bootstrap installs both; a missing
# one is a failure, not a case left out), and with the configured CC and CXX
# when they are other compilers.  Compiles only (-fsyntax-only): what the
# header means is the other tests' business.
# `make check` runs it from the top build directory (srcdir set by the
# test driver; CC and CXX come from test/check.env, written by
# test/local.mk).  Ends with "header-strict: N passed, N failed".
set -u
srcdir=${srcdir:-$(dirname "$0")/..}
[ -f test/check.env ] && . ./test/check.env
tally_name=header-strict
. "$srcdir/test/tally.sh"

# compilers DEFAULT... CONFIGURED: the default names, plus the configured
# compiler (its first word) if it is another one.
compilers() {
    conf=$1
    shift
    list=$*
    first=${conf%% *}
    case " $list " in *" $first "*) ;; *) [ -n "$first" ] && list="$list $conf" ;; esac
    echo "$list"
}

check() { # LANGUAGE-FILE COMPILER FLAGS...
    file=$1
    comp=$2
    shift 2
    if out=$($comp "$@" -pedantic -Wall -Wextra -Werror -I"$srcdir/include" \
        -fsyntax-only "$srcdir/$file" 2>&1); then
        pass "$comp $* $file"
    else
        fail "$comp $* $file"
        echo "$out" | sed 's/^/    /'
    fi
}

for cc in $(compilers "${CC:-}" gcc clang); do
    if ! command -v "${cc%% *}" >/dev/null 2>&1; then
        fail "$cc is not installed (./bootstrap installs it)"
        continue
    fi
    for std in c99 c11 c17; do
        check test/strict_header.c "$cc" -std=$std
        check test/strict_header.c "$cc" -std=$std -D_POSIX_C_SOURCE=200809L
    done
done
for cxx in $(compilers "${CXX:-}" g++ clang++); do
    if ! command -v "${cxx%% *}" >/dev/null 2>&1; then
        fail "$cxx is not installed (./bootstrap installs it)"
        continue
    fi
    for std in c++11 c++17; do
        check test/cxx_header.cc "$cxx" -std=$std
    done
done
finish
