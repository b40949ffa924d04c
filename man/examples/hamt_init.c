/*
 * hamt_init.c - fix the hash seed, so that the trie, and with it the
 * iteration order, is the same in every run.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>

#include <hamt.h>

int
main(void)
{
    /* Any 16 bytes will do; a test would print them, or take a flag. */
    static const uint8_t seed[16] = {
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
        0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
    };
    static const char *const words[] = {"ant", "bee", "cat", "dog"};
    const struct hamt *m;
    struct hamt_iter it;
    const void *key;

    if (hamt_init() != 0 || hamt_set_seed(seed) != 0) {
        perror("hamt_init");
        return 1;
    }
    /* The first map of a built-in key kind puts the seed in use. */
    m = hamt_new(HAMT_KEY_STRING);
    for (size_t i = 0; m != NULL && i < 4; i++) {
        m = hamt_set(m, words[i], NULL);
    }
    if (m == NULL) {
        perror("hamt_set");
        return 1;
    }
    hamt_iter_init(&it, m);
    while (hamt_iter_next(&it, &key, NULL)) {
        printf("%s\n", (const char *)key);
    }

    /* From now on the seed cannot change. */
    if (hamt_set_seed(seed) != -1 || errno != EBUSY) {
        fprintf(stderr, "hamt_set_seed: expected EBUSY\n");
        return 1;
    }
    return 0;
}
