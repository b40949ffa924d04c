/*
 * hamt_equal.c - compare maps built in different orders, first by value
 * identity, then with a function that compares the strings.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <hamt.h>

/* Two arrays with the same contents are still two objects. */
static char red1[] = "red", red2[] = "red";

static bool
same_string(const void *a, const void *b, void *ctx)
{
    (void)ctx;
    return strcmp(a, b) == 0;
}

int
main(void)
{
    const struct hamt *e = hamt_new(HAMT_KEY_STRING);
    const struct hamt *a = NULL, *b = NULL;

    if (e != NULL && (a = hamt_set(e, "apple", red1)) != NULL) {
        a = hamt_set(a, "sky", "blue");
    }
    if (e != NULL && (b = hamt_set(e, "sky", "blue")) != NULL) {
        b = hamt_set(b, "apple", red2);
    }
    if (a == NULL || b == NULL) {
        perror("hamt_set");
        return 1;
    }

    printf("by identity: %d\n", hamt_equal(a, b, NULL, NULL));
    printf("by content:  %d\n", hamt_equal(a, b, same_string, NULL));
    return hamt_equal(a, b, same_string, NULL) ? 0 : 1;
}
