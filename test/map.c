/*
 * test/map.c - persistent operations: get, set, del, size, the identity
 * rule, old versions unchanged, every key kind.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "internal.h"
#include "testkeys.h"

#define V(x) ((void *)(uintptr_t)(x))

Test(map, empty_map_is_one_shared_object_per_kind)
{
    const struct hamt *a = hamt_new(HAMT_KEY_U64);
    const struct hamt *b = hamt_new(HAMT_KEY_U64);
    const struct hamt *s = hamt_new(HAMT_KEY_STRING);

    cr_assert_not_null(a);
    cr_assert_eq(a, b);
    cr_assert_neq(a, s);
    cr_assert_eq(hamt_size(a), 0);
    cr_assert_eq(hamt_new_like(a), a);
    cr_assert_eq(tk_empty(), tk_empty());
    cr_assert_eq(hamt_key_kind(s), HAMT_KEY_STRING);
}

Test(map, set_then_get_returns_value_and_old_version_is_unchanged)
{
    const struct hamt *m0 = hamt_new(HAMT_KEY_U64);
    const struct hamt *m1 = hamt_set(m0, HAMT_U64(1), V(10));
    const struct hamt *m2 = hamt_set(m1, HAMT_U64(2), V(20));
    const struct hamt *m3 = hamt_set(m2, HAMT_U64(1), V(11));
    void *v;

    cr_assert(m1 && m2 && m3);
    cr_assert_eq(hamt_size(m0), 0);
    cr_assert_eq(hamt_size(m1), 1);
    cr_assert_eq(hamt_size(m2), 2);
    cr_assert_eq(hamt_size(m3), 2);
    cr_assert(!hamt_get(m0, HAMT_U64(1), &v));
    cr_assert(hamt_get(m1, HAMT_U64(1), &v));
    cr_assert_eq(v, V(10));
    cr_assert(!hamt_get(m1, HAMT_U64(2), &v));
    cr_assert(hamt_get(m2, HAMT_U64(1), &v));
    cr_assert_eq(v, V(10));
    cr_assert(hamt_get(m3, HAMT_U64(1), &v));
    cr_assert_eq(v, V(11));
    cr_assert(hamt_get(m3, HAMT_U64(2), &v));
    cr_assert_eq(v, V(20));
}

Test(map, null_value_is_a_value_not_absence)
{
    const struct hamt *m = hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(5), NULL);
    void *v = V(1);

    cr_assert_eq(hamt_size(m), 1);
    cr_assert(hamt_get(m, HAMT_U64(5), &v));
    cr_assert_null(v);
    cr_assert(!hamt_get(m, HAMT_U64(6), &v));
}

Test(map, key_zero_is_a_valid_u64_key)
{
    const struct hamt *m = hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(0), V(3));
    void *v;

    cr_assert(hamt_get(m, HAMT_U64(0), &v));
    cr_assert_eq(v, V(3));
    cr_assert_eq(hamt_remove(m, HAMT_U64(0)), hamt_new(HAMT_KEY_U64));
}

Test(map, noop_set_returns_same_pointer_and_allocates_nothing)
{
    const struct hamt *m = hamt_new(HAMT_KEY_U64);

    for (uint64_t i = 0; i < 1000; i++) {
        m = hamt_set(m, HAMT_U64(i), V(i));
    }
    unsigned long before = hamt__alloc_count();
    for (uint64_t i = 0; i < 1000; i++) {
        cr_assert_eq(hamt_set(m, HAMT_U64(i), V(i)), m);
    }
    cr_assert_eq(hamt__alloc_count(), before);
}

Test(map, del_of_absent_key_returns_same_pointer_and_allocates_nothing)
{
    const struct hamt *m = hamt_new(HAMT_KEY_U64);

    for (uint64_t i = 0; i < 1000; i++) {
        m = hamt_set(m, HAMT_U64(i), V(i));
    }
    unsigned long before = hamt__alloc_count();
    for (uint64_t i = 1000; i < 3000; i++) {
        cr_assert_eq(hamt_remove(m, HAMT_U64(i)), m);
    }
    cr_assert_eq(hamt__alloc_count(), before);
    cr_assert_eq(hamt_remove(hamt_new(HAMT_KEY_U64), HAMT_U64(1)),
                 hamt_new(HAMT_KEY_U64));
}

Test(map, removing_every_key_returns_the_shared_empty_map)
{
    const struct hamt *e = hamt_new(HAMT_KEY_U64), *m = e;

    for (uint64_t i = 0; i < 500; i++) {
        m = hamt_set(m, HAMT_U64(i * 7919), V(i));
    }
    for (uint64_t i = 0; i < 500; i++) {
        m = hamt_remove(m, HAMT_U64(i * 7919));
        cr_assert_not_null(m);
        cr_assert_eq(hamt__validate(m), 0);
    }
    cr_assert_eq(m, e);
}

Test(map, every_old_version_stays_unchanged)
{
    enum { N = 2000 };
    static const struct hamt *ver[2 * N + 1];
    const struct hamt *m = hamt_new(HAMT_KEY_U64);

    ver[0] = m;
    for (uint64_t i = 0; i < N; i++) {
        m = hamt_set(m, HAMT_U64(i), V(i + 1));
        ver[i + 1] = m;
    }
    for (uint64_t i = 0; i < N; i++) {
        m = hamt_remove(m, HAMT_U64(i));
        ver[N + 1 + i] = m;
    }
    /* Version j < = N holds keys 0..j-1; version N+1+i lacks keys 0..i. */
    for (uint64_t j = 0; j <= N; j += 97) {
        cr_assert_eq(hamt_size(ver[j]), j);
        cr_assert_eq(hamt__validate(ver[j]), 0);
        for (uint64_t k = 0; k < N; k++) {
            void *v;
            bool f = hamt_get(ver[j], HAMT_U64(k), &v);
            cr_assert_eq(f, k < j);
            if (f) {
                cr_assert_eq(v, V(k + 1));
            }
        }
    }
    for (uint64_t i = 0; i < N; i += 101) {
        const struct hamt *x = ver[N + 1 + i];
        cr_assert_eq(hamt_size(x), N - 1 - i);
        cr_assert_eq(hamt__validate(x), 0);
        for (uint64_t k = 0; k < N; k++) {
            cr_assert_eq(hamt_contains(x, HAMT_U64(k)), k > i);
        }
    }
}

Test(map, string_keys_are_copied_on_insert)
{
    char buf[32];
    const struct hamt *m = hamt_new(HAMT_KEY_STRING);
    void *v;

    strcpy(buf, "alpha");
    m = hamt_set(m, buf, V(1));
    strcpy(buf, "beta");
    m = hamt_set(m, buf, V(2));
    strcpy(buf, "zzzzz"); /* the caller's buffer changes; the map must not */
    cr_assert_eq(hamt_size(m), 2);
    cr_assert(hamt_get(m, "alpha", &v));
    cr_assert_eq(v, V(1));
    cr_assert(hamt_get(m, "beta", &v));
    cr_assert_eq(v, V(2));
    cr_assert(!hamt_get(m, "zzzzz", &v));
    cr_assert(!hamt_get(m, "", &v));
    m = hamt_set(m, "", V(3));
    cr_assert(hamt_get(m, "", &v));
    cr_assert_eq(v, V(3));
    cr_assert_eq(hamt_size(hamt_remove(m, "alpha")), 2);
}

Test(map, byte_string_keys_compare_by_length_and_content)
{
    const struct hamt *m = hamt_new(HAMT_KEY_BYTES);
    char data[8] = {'a', 0, 'b', 0, 'c', 0, 'd', 0};
    struct hamt_bytes k1 = {.len = 3, .data = data};
    struct hamt_bytes k2 = {.len = 4, .data = data};
    struct hamt_bytes k0 = {.len = 0, .data = NULL};
    void *v;

    m = hamt_set(m, &k1, V(1));
    m = hamt_set(m, &k2, V(2));
    m = hamt_set(m, &k0, V(0));
    /* Stored copies are private: the caller's bytes change, no key does. */
    data[0] = 'x';
    const char orig[3] = {'a', 0, 'b'};
    struct hamt_bytes probe = {.len = 3, .data = orig};
    cr_assert(hamt_get(m, &probe, &v), "the stored key kept its bytes");
    cr_assert_eq(v, V(1));
    cr_assert_not(hamt_get(m, &k1, NULL), "\"x\\0b\" was never inserted");
    data[0] = 'a';
    cr_assert_eq(hamt_size(m), 3);
    cr_assert(hamt_get(m, &k1, &v));
    cr_assert_eq(v, V(1));
    cr_assert(hamt_get(m, &k2, &v));
    cr_assert_eq(v, V(2));
    cr_assert(hamt_get(m, &k0, &v));
    cr_assert_eq(v, V(0));
    struct hamt_iter it;
    const void *key;
    size_t n = 0;
    hamt_iter_init(&it, m);
    while (hamt_iter_next(&it, &key, &v)) {
        const struct hamt_bytes *b = key;
        cr_assert_neq(b, &k1);
        cr_assert_neq(b, &k2);
        cr_assert_eq(b->len, (size_t)(uintptr_t)v == 0 ? 0 : 2 + (uintptr_t)v);
        n++;
    }
    cr_assert_eq(n, 3);
}

/* The root fragment of a byte string's hash: its slot in the root. */
static uint32_t
bytes_root_slot(const struct hamt_bytes *b)
{
    return (uint32_t)hamt__hash_bytes(b->data, b->len) & HAMT_MASK;
}

/* Two of the n keys (n > 32) that share a root slot: keys[*i], i < j. */
static void
bytes_same_slot(const struct hamt_bytes *keys, unsigned n, unsigned *i,
                unsigned *j)
{
    for (*j = 1; *j < n; (*j)++) {
        for (*i = 0; *i < *j; (*i)++) {
            if (bytes_root_slot(&keys[*i]) == bytes_root_slot(&keys[*j])) {
                return;
            }
        }
    }
    cr_assert_fail("33 keys in 32 root slots, none shared");
}

/*
 * Two byte strings in one root slot are told apart by key equality alone.
 * Of 33 keys two share a slot: among 33 prefixes of one string (a key
 * must not find a longer key that starts with it), and among 33 keys that
 * differ only in their last byte (every byte is compared).
 */
Test(map, byte_string_keys_in_one_slot_differ_by_length_and_last_byte)
{
    static const char text[33] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    char last[33][3];
    struct hamt_bytes prefix[33], tail[33];
    unsigned i, j;
    /* First, so that the seed the slots below depend on is in use. */
    const struct hamt *e = hamt_new(HAMT_KEY_BYTES);

    for (unsigned k = 0; k < 33; k++) {
        prefix[k] = (struct hamt_bytes){.len = k + 1, .data = text};
        last[k][0] = 'a';
        last[k][1] = 'b';
        last[k][2] = (char)('0' + k);
        tail[k] = (struct hamt_bytes){.len = 3, .data = last[k]};
    }
    bytes_same_slot(prefix, 33, &i, &j);
    const struct hamt *m = hamt_set(e, &prefix[i], V(1));
    cr_assert(hamt_get(m, &prefix[i], NULL));
    cr_assert_not(hamt_get(m, &prefix[j], NULL), "%u bytes found %u", j + 1,
                  i + 1);
    bytes_same_slot(tail, 33, &i, &j);
    m = hamt_set(e, &tail[i], V(1));
    cr_assert(hamt_get(m, &tail[i], NULL));
    cr_assert_not(hamt_get(m, &tail[j], NULL), "key %u found key %u", j, i);
}

/* A one-byte key is copied like any other: the caller may reuse its byte. */
Test(map, a_one_byte_key_is_copied)
{
    char byte = 'q';
    const char q = 'q';
    struct hamt_bytes k = {.len = 1, .data = &byte};
    struct hamt_bytes probe = {.len = 1, .data = &q};
    const struct hamt *m = hamt_set(hamt_new(HAMT_KEY_BYTES), &k, V(1));
    struct hamt_iter it;
    const void *key;
    void *v;

    byte = 'r';
    cr_assert(hamt_get(m, &probe, &v));
    cr_assert_eq(v, V(1));
    hamt_iter_init(&it, m);
    cr_assert(hamt_iter_next(&it, &key, &v));
    const struct hamt_bytes *stored = key;
    cr_assert_eq(stored->len, 1);
    cr_assert_neq(stored->data, (const void *)&byte);
    cr_assert_eq(*(const char *)stored->data, 'q');
}

/*
 * A key the map handed out (its own copy, from an iterator) finds its
 * entry: the stored pointer itself is a probe like any other.
 */
Test(map, a_stored_string_key_finds_its_own_entry)
{
    const struct hamt *m = hamt_set(hamt_new(HAMT_KEY_STRING), "alpha", V(1));
    struct hamt_iter it;
    const void *key;
    void *v;

    hamt_iter_init(&it, m);
    cr_assert(hamt_iter_next(&it, &key, &v));
    v = NULL;
    cr_assert(hamt_get(m, key, &v));
    cr_assert_eq(v, V(1));
    cr_assert_eq(hamt_set(m, key, V(1)), m, "the same binding: no change");
    cr_assert_eq(hamt_size(hamt_remove(m, key)), 0);
}

Test(map, pointer_keys_use_identity)
{
    int a = 1, b = 1;
    const struct hamt *m = hamt_new(HAMT_KEY_PTR);

    m = hamt_set(m, &a, V(1));
    m = hamt_set(m, &b, V(2));
    m = hamt_set(m, NULL, V(3));
    void *v;
    cr_assert_eq(hamt_size(m), 3);
    cr_assert(hamt_get(m, &a, &v));
    cr_assert_eq(v, V(1));
    cr_assert(hamt_get(m, &b, &v));
    cr_assert_eq(v, V(2));
    cr_assert(hamt_get(m, NULL, &v));
    cr_assert_eq(v, V(3));
}

Test(map, custom_keys_with_all_hashes_equal_work_at_every_size)
{
    const struct hamt *m = tk_empty();
    enum { N = 300 };
    const struct tk *k[N];

    for (unsigned i = 0; i < N; i++) {
        k[i] = tk_key(i, 0x2a);
        m = hamt_set(m, k[i], V(i));
        cr_assert_eq(hamt_size(m), i + 1);
        cr_assert_eq(hamt__validate(m), 0);
    }
    for (unsigned i = 0; i < N; i++) {
        void *v;
        cr_assert(hamt_get(m, k[i], &v));
        cr_assert_eq(v, V(i));
    }
    for (unsigned i = 0; i < N; i++) {
        m = hamt_remove(m, k[i]);
        cr_assert_eq(hamt_size(m), N - 1 - i);
        cr_assert_eq(hamt__validate(m), 0);
        cr_assert(!hamt_contains(m, k[i]));
        if (i + 1 < N) {
            cr_assert(hamt_contains(m, k[i + 1]));
        }
    }
    cr_assert_eq(m, tk_empty());
}

static bool
veq_mod10(const void *a, const void *b, void *ctx)
{
    (void)ctx;
    return (uintptr_t)a % 10 == (uintptr_t)b % 10;
}

Test(map, equality_is_order_independent_and_uses_value_callback)
{
    const struct hamt *a = hamt_new(HAMT_KEY_U64), *b = a;

    for (uint64_t i = 0; i < 3000; i++) {
        a = hamt_set(a, HAMT_U64(i), V(i));
        b = hamt_set(b, HAMT_U64(2999 - i), V(2999 - i));
    }
    cr_assert_neq(a, b);
    cr_assert_eq(hamt_equal(a, b, NULL, NULL), 1);
    const struct hamt *c = hamt_set(b, HAMT_U64(5), V(15));
    cr_assert_eq(hamt_equal(a, c, NULL, NULL), 0);
    cr_assert_eq(hamt_equal(a, c, veq_mod10, NULL), 1);
    const struct hamt *d = hamt_remove(a, HAMT_U64(7));
    cr_assert_eq(hamt_equal(a, d, NULL, NULL), 0);
    const struct hamt *e =
        hamt_set(hamt_remove(d, HAMT_U64(8)), HAMT_U64(7), V(7));
    cr_assert_eq(hamt_equal(a, e, NULL, NULL), 0); /* same size, other keys */
    /* A query: other key types are unequal, NULL reads as empty. */
    errno = 12345;
    cr_assert_not(hamt_equal(a, hamt_new(HAMT_KEY_STRING), NULL, NULL));
    cr_assert_not(
        hamt_equal(hamt_new(HAMT_KEY_U64), hamt_new(HAMT_KEY_PTR), NULL, NULL));
    cr_assert_not(hamt_equal(a, NULL, NULL, NULL));
    cr_assert(hamt_equal(NULL, hamt_new(HAMT_KEY_STRING), NULL, NULL));
    cr_assert(hamt_equal(NULL, NULL, NULL, NULL));
    cr_assert_eq(errno, 12345);
}

Test(map, equality_skips_shared_subtrees)
{
    const struct hamt *a = hamt_new(HAMT_KEY_U64);

    for (uint64_t i = 0; i < 100000; i++) {
        a = hamt_set(a, HAMT_U64(i), V(i));
    }
    const struct hamt *b = hamt_set(a, HAMT_U64(5), V(6));
    b = hamt_set(b, HAMT_U64(5), V(5)); /* equal contents, new path */
    cr_assert_neq(a, b);
    hamt__nodes_visited = 0;
    cr_assert_eq(hamt_equal(a, b, NULL, NULL), 1);
    /* One path (<= 14 nodes) differs; everything else is shared. */
    cr_assert_leq(hamt__nodes_visited, 14 * 32, "visited %lu nodes",
                  hamt__nodes_visited);
}

Test(map, collisions_equality_ignores_entry_order)
{
    const struct hamt *a = tk_empty(), *b = tk_empty();
    const struct tk *k[5];

    for (unsigned i = 0; i < 5; i++) {
        k[i] = tk_key(i, 0x77);
    }
    for (unsigned i = 0; i < 5; i++) {
        a = hamt_set(a, k[i], V(i));
        b = hamt_set(b, k[4 - i], V(4 - i));
    }
    cr_assert_eq(hamt_equal(a, b, NULL, NULL), 1);
    cr_assert_eq(hamt_equal(a, hamt_set(b, k[2], V(9)), NULL, NULL), 0);
}

Test(map, get_many_matches_get_for_hits_misses_and_collisions)
{
    enum { N = 5000, Q = 777 };
    const struct hamt *m = hamt_new(HAMT_KEY_U64);
    static const void *keys[Q];
    static void *vals[Q];
    static bool found[Q];

    for (uint64_t i = 0; i < N; i++) {
        m = hamt_set(m, HAMT_U64(i * 2), V(i + 1));
    }
    for (unsigned i = 0; i < Q; i++) {
        keys[i] = HAMT_U64((i * 7919) % (2 * N + 50));
        vals[i] = V(0xdead);
    }
    size_t hits = hamt_get_many(m, Q, keys, vals, found), want = 0;
    for (unsigned i = 0; i < Q; i++) {
        void *v = V(0xdead);
        bool f = hamt_get(m, keys[i], &v);
        cr_assert_eq(found[i], f, "key %u", i);
        cr_assert_eq(vals[i], v, "key %u", i);
        want += f;
    }
    cr_assert_eq(hits, want);
    cr_assert_gt(hits, 0);
    cr_assert_lt(hits, Q);

    /* Collision nodes and strings go through the generic path. */
    const struct hamt *c = tk_empty();
    const struct tk *tks[6];
    for (unsigned i = 0; i < 6; i++) {
        tks[i] = tk_key(i, i < 4 ? 0x3 : 0x23);
        if (i != 2) {
            c = hamt_set(c, tks[i], V(i + 1));
        }
    }
    const void *ck[6] = {tks[0], tks[1], tks[2], tks[3], tks[4], tks[5]};
    void *cv[6] = {0};
    bool cf[6];
    cr_assert_eq(hamt_get_many(c, 6, ck, cv, cf), 5);
    for (unsigned i = 0; i < 6; i++) {
        cr_assert_eq(cf[i], i != 2);
        cr_assert_eq(cv[i], i != 2 ? V(i + 1) : NULL);
    }
    const struct hamt *s = hamt_set(hamt_new(HAMT_KEY_STRING), "a", V(1));
    const void *sk[2] = {"a", "b"};
    bool sf[2];
    cr_assert_eq(hamt_get_many(s, 2, sk, NULL, sf), 1);
    cr_assert(sf[0] && !sf[1]);
}

Test(map, get_many_finds_nothing_for_bad_arguments_and_leaves_errno)
{
    const struct hamt *s = hamt_set(hamt_new(HAMT_KEY_STRING), "a", NULL);
    const void *keys[2] = {"a", NULL};
    bool found[2] = {true, true};

    errno = 12345;
    cr_assert_eq(hamt_get_many(s, 2, keys, NULL, found), 0);
    cr_assert(!found[0] && !found[1]);
    found[0] = true;
    cr_assert_eq(hamt_get_many(NULL, 1, keys, NULL, found), 0);
    cr_assert(!found[0]);
    cr_assert_eq(hamt_get_many(s, 1, keys, NULL, NULL), 0);
    cr_assert_eq(hamt_get_many(s, 0, NULL, NULL, NULL), 0);
    cr_assert_eq(errno, 12345, "a query never touches errno");
    cr_assert_eq(hamt_get_many(s, 1, keys, NULL, found), 1);
    cr_assert(found[0]);
}
