/*
 * hamt_get.c - look keys up, telling a NULL value apart from absence.
 */
#include <stdio.h>
#include <string.h>

#include <hamt.h>

int
main(void)
{
    const struct hamt *m = hamt_new(HAMT_KEY_STRING);
    char key[32];
    void *val;

    /* String keys are copied, so one buffer serves every insertion. */
    strcpy(key, "colour");
    if (m != NULL) {
        m = hamt_set(m, key, "blue");
    }
    strcpy(key, "flavour");
    if (m != NULL) {
        m = hamt_set(m, key, NULL); /* NULL is a value like any other */
    }
    if (m == NULL) {
        perror("hamt_set");
        return 1;
    }

    if (hamt_get(m, "colour", &val)) {
        printf("colour: %s\n", (const char *)val);
    }
    if (hamt_get(m, "flavour", &val) && val == NULL) {
        printf("flavour: present, bound to NULL\n");
    }
    if (!hamt_contains(m, "size")) {
        printf("size: absent\n");
    }
    return 0;
}
