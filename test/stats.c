/*
 * test/stats.c - hamt__stats (lib/stats.h), the walk the bench uses for
 * the bytes of a map's nodes and the balance of its root slots.  Shapes
 * are forced with test keys whose hashes the test chooses, so node counts,
 * depths and slot counts are known exactly.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "node.h"
#include "stats.h"
#include "testkeys.h"

static size_t
slot_sum(const struct hamt__stats *st)
{
    size_t s = 0;
    for (unsigned f = 0; f < 32; f++) {
        s += st->root_slots[f];
    }
    return s;
}

Test(stats, null_arguments_fail_with_einval)
{
    struct hamt__stats st;

    errno = 0;
    cr_assert_eq(hamt__stats(NULL, &st), -1);
    cr_assert_eq(errno, EINVAL);
    errno = 0;
    cr_assert_eq(hamt__stats(hamt_new(HAMT_KEY_U64), NULL), -1);
    cr_assert_eq(errno, EINVAL);
}

Test(stats, empty_map_reports_zeros)
{
    struct hamt__stats st;

    memset(&st, 0xff, sizeof st);
    cr_assert_eq(hamt__stats(hamt_new(HAMT_KEY_U64), &st), 0);
    cr_assert_eq(st.entries, 0);
    cr_assert_eq(st.nodes, 0);
    cr_assert_eq(st.node_bytes, 0);
    cr_assert_eq(slot_sum(&st), 0);
    cr_assert_eq(st.depth, 0);
}

Test(stats, inline_entries_count_one_node_and_fill_their_slots)
{
    const struct hamt *m = tk_map(3, (uint64_t[]){3, 1, 2});
    struct hamt__stats st;

    cr_assert_eq(hamt__stats(m, &st), 0);
    cr_assert_eq(st.entries, 3);
    cr_assert_eq(st.nodes, 1);
    cr_assert_eq(st.collision_nodes, 0);
    cr_assert_eq(st.depth, 0);
    cr_assert_eq(st.root_slots[0], 0);
    cr_assert_eq(st.root_slots[1], 1);
    cr_assert_eq(st.root_slots[2], 1);
    cr_assert_eq(st.root_slots[3], 1);
    cr_assert_eq(slot_sum(&st), 3);
    /* One block: the header and the root node of three entries. */
    cr_assert_eq(st.node_bytes, hamt__alloc_block_size(m));
    cr_assert_geq(st.node_bytes, sizeof(struct hamt) + nd_bytes(3, 0));
    /* Test keys are a custom kind: the map stores the caller's words. */
    cr_assert_eq(st.key_bytes, 0);
}

Test(stats, a_shared_first_fragment_counts_a_child_under_its_slot)
{
    /* 1 and 33 share fragment 1 at the root: a child node one level down. */
    const struct hamt *m = tk_map(3, (uint64_t[]){1, 33, 2});
    struct hamt__stats st;

    cr_assert_eq(hamt__stats(m, &st), 0);
    cr_assert_eq(st.entries, 3);
    cr_assert_eq(st.nodes, 2);
    cr_assert_eq(st.depth, 1);
    cr_assert_eq(st.root_slots[1], 2);
    cr_assert_eq(st.root_slots[2], 1);
    cr_assert_eq(slot_sum(&st), 3);
    cr_assert_gt(st.node_bytes, hamt__alloc_block_size(m));
}

Test(stats, equal_hashes_count_a_collision_node_at_the_last_depth)
{
    const struct hamt *m = tk_map(2, (uint64_t[]){0x2a, 0x2a});
    struct hamt__stats st;

    cr_assert_eq(hamt__stats(m, &st), 0);
    cr_assert_eq(st.entries, 2);
    /* The root and one node at each of the other bitmap levels. */
    cr_assert_eq(st.nodes, HAMT_LEVELS);
    cr_assert_eq(st.collision_nodes, 1);
    cr_assert_eq(st.depth, HAMT_COLLISION_DEPTH);
    cr_assert_eq(st.root_slots[0x2a & HAMT_MASK], 2);
    cr_assert_eq(slot_sum(&st), 2);
}

Test(stats, string_maps_count_their_key_copies_and_u64_maps_none)
{
    const struct hamt *s = hamt_new(HAMT_KEY_STRING);
    const struct hamt *u = hamt_new(HAMT_KEY_U64);
    size_t text = 0;
    char buf[32];

    for (unsigned i = 0; i < 1000; i++) {
        int len = snprintf(buf, sizeof buf, "key-%u", i);
        text += (size_t)len + 1;
        s = hamt_set(s, buf, NULL);
        u = hamt_set(u, HAMT_U64(i), NULL);
        cr_assert(s != NULL && u != NULL);
    }
    struct hamt__stats ss, us;
    cr_assert_eq(hamt__stats(s, &ss), 0);
    cr_assert_eq(hamt__stats(u, &us), 0);
    cr_assert_eq(ss.entries, 1000);
    cr_assert_eq(us.entries, 1000);
    cr_assert_geq(ss.key_bytes, text);
    cr_assert_eq(us.key_bytes, 0);
    cr_assert_eq(slot_sum(&ss), 1000);
    cr_assert_eq(slot_sum(&us), 1000);
    /* Every node is at least its bitmaps; entries need two words each. */
    cr_assert_geq(us.node_bytes,
                  us.nodes * sizeof(struct node) + 1000 * 2 * sizeof(void *));
}

Test(stats, an_update_leaves_the_old_versions_figures_alone)
{
    const struct hamt *a = tk_map(3, (uint64_t[]){1, 33, 2});
    const struct hamt *b = hamt_set(a, tk_key(9, 4), NULL);
    struct hamt__stats sa, sb;

    cr_assert(b != NULL);
    cr_assert_eq(hamt__stats(a, &sa), 0);
    cr_assert_eq(hamt__stats(b, &sb), 0);
    cr_assert_eq(sa.entries, 3);
    cr_assert_eq(sb.entries, 4);
    cr_assert_eq(sa.root_slots[4], 0);
    cr_assert_eq(sb.root_slots[4], 1);
}

/* A map of one key: one node, the root, in the map's own block. */
Test(stats, a_single_entry_counts_the_root_node)
{
    const struct hamt *m = tk_map(1, (uint64_t[]){5});
    struct hamt__stats st;

    cr_assert_eq(hamt__stats(m, &st), 0);
    cr_assert_eq(st.entries, 1);
    cr_assert_eq(st.nodes, 1);
    cr_assert_eq(st.depth, 0);
    cr_assert_eq(st.root_slots[5], 1);
    cr_assert_eq(slot_sum(&st), 1);
    cr_assert_eq(st.node_bytes, hamt__alloc_block_size(m));
}

/* The blocks of the key copies of m, found through its iterator. */
static size_t
copy_bytes(const struct hamt *m)
{
    struct hamt_iter it;
    const void *key;
    void *v;
    size_t n = 0;

    hamt_iter_init(&it, m);
    while (hamt_iter_next(&it, &key, &v)) {
        n += hamt__alloc_block_size(key);
    }
    return n;
}

/*
 * key_bytes is exactly the blocks of the copies, of every key in every
 * node, for string and byte-string maps alike.
 */
Test(stats, key_bytes_are_the_blocks_of_every_key_copy)
{
    const struct hamt *s = hamt_new(HAMT_KEY_STRING);
    const struct hamt *b = hamt_new(HAMT_KEY_BYTES);
    char buf[32];

    for (unsigned i = 0; i < 200; i++) {
        int len = snprintf(buf, sizeof buf, "key-%u", i);
        struct hamt_bytes k = {.len = (size_t)len, .data = buf};
        b = hamt_set(b, &k, NULL);
        s = hamt_set(s, buf, NULL);
        cr_assert(s != NULL && b != NULL);
    }
    struct hamt__stats ss, bs;
    cr_assert_eq(hamt__stats(s, &ss), 0);
    cr_assert_eq(hamt__stats(b, &bs), 0);
    cr_assert_eq(ss.key_bytes, copy_bytes(s));
    cr_assert_eq(bs.key_bytes, copy_bytes(b));
    cr_assert_gt(bs.key_bytes, 0);
}
