/*
 * test/strict_header.c - a program that includes nothing but <hamt.h>.
 * test/header-strict.sh compiles it with -std=c99/c11/c17 -pedantic
 * -Werror (gcc and clang), with and without POSIX, so that the header
 * holds in strict ISO C: in C99 without POSIX, <time.h> has no struct
 * timespec, and the header must declare the tag itself.
 */
#include <hamt.h>

int
main(void)
{
    const struct hamt *m = hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(1), NULL);
    struct hamt_cell *c = m != NULL ? hamt_cell_new(m) : NULL;
    int rc;

    if (c == NULL) {
        return 1;
    }
#if defined(_POSIX_C_SOURCE) || __STDC_VERSION__ >= 201112L
    {
        /* Here <time.h> defines the struct: it must be the header's. */
        struct timespec zero = {0, 0};

        rc = hamt_cell_wait(c, 0, &zero);
    }
#else
    rc = hamt_cell_wait(c, 0, NULL);
#endif
    return rc != 0 || hamt_size(m) != 1;
}
