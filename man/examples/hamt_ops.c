/*
 * hamt_ops.c - count words with hamt_alter(), list what changed between
 * two versions with hamt_diff(), and merge two counts by adding them.
 */
#include <stdint.h>
#include <stdio.h>

#include <hamt.h>

/* hamt_alter(): add one to the count (absent counts as 0). */
static enum hamt_alter_action
bump(void *old, bool present, void **new_val, void *ctx)
{
    (void)ctx;
    *new_val = (void *)((present ? (uintptr_t)old : 0) + 1);
    return HAMT_ALTER_SET;
}

static int
show(const void *key, void *old_val, void *new_val, enum hamt_diff_kind kind,
     void *ctx)
{
    (void)ctx;
    printf("%-8s %s: %lu -> %lu\n", (const char *)key,
           kind == HAMT_DIFF_ADDED     ? "added"
           : kind == HAMT_DIFF_REMOVED ? "removed"
                                       : "changed",
           (unsigned long)(uintptr_t)old_val,
           (unsigned long)(uintptr_t)new_val);
    return 0;
}

/* hamt_merge(): a word counted in both maps gets the sum. */
static enum hamt_conflict_action
add(const void *key, void *va, void *vb, void **out, void *ctx)
{
    (void)key;
    (void)ctx;
    *out = (void *)((uintptr_t)va + (uintptr_t)vb);
    return HAMT_CONFLICT_COMBINE;
}

int
main(void)
{
    const char *words[] = {"red", "green", "red", "blue", "red"};
    const struct hamt *v1 = hamt_new(HAMT_KEY_STRING), *v2, *sum;
    void *n = NULL;

    for (size_t i = 0; i < 4 && v1 != NULL; i++) {
        v1 = hamt_alter(v1, words[i], bump, NULL);
    }
    v2 = v1 != NULL ? hamt_alter(v1, words[4], bump, NULL) : NULL;
    v2 = v2 != NULL ? hamt_alter(v2, "violet", bump, NULL) : NULL;
    sum = v2 != NULL ? hamt_merge(v1, v2, add, NULL) : NULL;
    if (sum == NULL) {
        perror("hamt_alter");
        return 1;
    }
    if (hamt_diff(v1, v2, NULL, show, NULL) != 0) {
        perror("hamt_diff");
        return 1;
    }
    hamt_get(sum, "red", &n);
    printf("red in both: %lu\n", (unsigned long)(uintptr_t)n);
    return (uintptr_t)n == 5 ? 0 : 1;
}
