/*
 * hamt_new.c - a custom key type: ASCII strings compared without regard
 * to case, as for HTTP header names.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <hamt.h>

/* FNV-1a over the lower-cased bytes: equal keys get equal hashes. */
static uint64_t
nocase_hash(const void *key, void *ctx)
{
    uint64_t h = 0xcbf29ce484222325u;

    (void)ctx;
    for (const unsigned char *p = key; *p != '\0'; p++) {
        h = (h ^ (uint64_t)tolower(*p)) * 0x100000001b3u;
    }
    return h;
}

static bool
nocase_equal(const void *a, const void *b, void *ctx)
{
    const unsigned char *p = a, *q = b;

    (void)ctx;
    while (*p != '\0' && tolower(*p) == tolower(*q)) {
        p++;
        q++;
    }
    return tolower(*p) == tolower(*q);
}

int
main(void)
{
    const struct hamt_key_type kt = {
        .size = sizeof kt,
        .hash = nocase_hash,
        .equal = nocase_equal,
        .ctx = NULL,
    };
    const struct hamt *empty, *m;
    void *val;

    if ((empty = hamt_new_custom(&kt)) == NULL) {
        perror("hamt_new_custom");
        return 1;
    }
    /* Custom keys are stored by pointer; string literals live on. */
    m = hamt_set(empty, "Content-Type", "text/plain");
    if (m != NULL) {
        m = hamt_set(m, "content-type", "text/html"); /* the same key */
    }
    if (m == NULL) {
        perror("hamt_set");
        return 1;
    }
    if (hamt_size(m) != 1 || !hamt_get(m, "CONTENT-TYPE", &val)) {
        fprintf(stderr, "unexpected contents\n");
        return 1;
    }
    printf("%zu entry: %s\n", hamt_size(m), (const char *)val);

    /* One empty map per key type, whichever way it is reached. */
    if (hamt_key_kind(m) != HAMT_KEY_CUSTOM || hamt_new_like(m) != empty ||
        hamt_new_custom(&kt) != empty || hamt_size(empty) != 0) {
        fprintf(stderr, "unexpected key type\n");
        return 1;
    }
    return 0;
}
