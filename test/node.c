/*
 * test/node.c - exact trie shapes, forced with test keys whose hashes the
 * test chooses: inline entries, pair subtrees, maximum depth, collision
 * nodes, and the canonical shape after removes.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "ctree.h"
#include "node.h"
#include "refmap.h"
#include "testkeys.h"

/* "N{" repeated n times, then body, then "}" n times. */
static const char *
nest(unsigned n, const char *body)
{
    static char buf[512];
    size_t o = 0;

    for (unsigned i = 0; i < n; i++) {
        o += (size_t)snprintf(buf + o, sizeof buf - o, "N{");
    }
    o += (size_t)snprintf(buf + o, sizeof buf - o, "%s", body);
    for (unsigned i = 0; i < n; i++) {
        o += (size_t)snprintf(buf + o, sizeof buf - o, "}");
    }
    return buf;
}

Test(node, different_fragments_are_inline_entries_in_fragment_order)
{
    const struct hamt *m = tk_map(3, (uint64_t[]){3, 1, 2});

    cr_assert_str_eq(tk_shape(m), "R{k1,k2,k0}");
    cr_assert_eq(hamt__validate(m), 0);
}

Test(node, equal_first_fragment_makes_a_child_node)
{
    /* 1 and 33 share fragment 1 at level 0 and differ at level 1. */
    const struct hamt *m = tk_map(3, (uint64_t[]){1, 33, 2});

    cr_assert_str_eq(tk_shape(m), "R{k2,N{k0,k1}}");
    cr_assert_eq(hamt__validate(m), 0);
}

Test(node, children_without_entries_are_separated_by_commas)
{
    /* Fragments 1 and 2 each hold two keys: a root of two children. */
    const struct hamt *m = tk_map(4, (uint64_t[]){1, 33, 2, 34});

    cr_assert_str_eq(tk_shape(m), "R{N{k0,k1},N{k2,k3}}");
    cr_assert_eq(hamt__validate(m), 0);
}

Test(node, equal_hashes_make_a_collision_node_below_the_last_level)
{
    /* Both hash to 0x2a: 12 single-child levels (shifts 5..60), then C. */
    const struct hamt *m = tk_map(2, (uint64_t[]){0x2a, 0x2a});
    char want[512];

    snprintf(want, sizeof want, "R{%s}", nest(12, "C{k0,k1}"));
    cr_assert_str_eq(tk_shape(m), want);
    cr_assert_eq(hamt__validate(m), 0);
}

Test(node, keys_differing_only_in_the_top_bit_reach_the_last_level)
{
    /* Fragments agree up to shift 55; at shift 60 they are 0 and 8. */
    const struct hamt *m = tk_map(2, (uint64_t[]){0, UINT64_C(1) << 63});
    char want[512];

    snprintf(want, sizeof want, "R{%s}", nest(12, "k0,k1"));
    cr_assert_str_eq(tk_shape(m), want);
    cr_assert_eq(hamt__validate(m), 0);
    void *v;
    cr_assert(hamt_get(m, tk_key(1, UINT64_C(1) << 63), &v));
}

Test(node, collision_node_grows_and_shrinks_then_pulls_up)
{
    const struct tk *k[4] = {tk_key(0, 7), tk_key(1, 7), tk_key(2, 7),
                             tk_key(3, 7)};
    const struct hamt *m = tk_empty();
    char want[512];

    for (unsigned i = 0; i < 4; i++) {
        m = hamt_set(m, k[i], NULL);
    }
    snprintf(want, sizeof want, "R{%s}", nest(12, "C{k0,k1,k2,k3}"));
    cr_assert_str_eq(tk_shape(m), want);
    m = hamt_remove(m, k[1]);
    m = hamt_remove(m, k[3]);
    snprintf(want, sizeof want, "R{%s}", nest(12, "C{k0,k2}"));
    cr_assert_str_eq(tk_shape(m), want);
    /* One key left: it is pulled up through every level into the root. */
    m = hamt_remove(m, k[0]);
    cr_assert_str_eq(tk_shape(m), "R{k2}");
    cr_assert_eq(hamt__validate(m), 0);
}

Test(node, remove_pulls_a_single_key_up_into_its_parent)
{
    /* k0,k1 share fragment 1 (child node); k2 is alone at fragment 2. */
    const struct hamt *m = tk_map(3, (uint64_t[]){1, 33, 2});
    const struct hamt *d = hamt_remove(m, tk_key(1, 33));

    cr_assert_str_eq(tk_shape(d), "R{k0,k2}");
    cr_assert_eq(hamt__validate(d), 0);
    cr_assert_str_eq(tk_shape(m), "R{k2,N{k0,k1}}"); /* old one unchanged */
}

Test(node, remove_beside_a_child_keeps_the_child)
{
    /* Level 1: k0 at fragment 0 inline, k1/k2 share fragment 1 below. */
    uint64_t h[3] = {1 | (0 << 5), 1 | (1 << 5), 1 | (1 << 5) | (1 << 10)};
    const struct hamt *m = tk_map(3, h);

    cr_assert_str_eq(tk_shape(m), "R{N{k0,N{k1,k2}}}");
    const struct hamt *d = hamt_remove(m, tk_key(0, h[0]));
    /* The level-1 node keeps two keys below it: still a node. */
    cr_assert_str_eq(tk_shape(d), "R{N{N{k1,k2}}}");
    cr_assert_eq(hamt__validate(d), 0);
    const struct hamt *e = hamt_remove(d, tk_key(2, h[2]));
    cr_assert_str_eq(tk_shape(e), "R{k1}");
}

Test(node, shape_does_not_depend_on_update_order)
{
    enum { N = 400 };
    uint64_t seed = 12345, h[N];
    const struct tk *k[N];
    unsigned perm[N];

    for (unsigned i = 0; i < N; i++) {
        /* Few distinct hash bits: deep paths and collisions are common. */
        h[i] = ref_rand(&seed) & UINT64_C(0x80000000000003ff);
        k[i] = tk_key(i, h[i]);
        perm[i] = i;
    }
    const struct hamt *a = tk_empty();
    for (unsigned i = 0; i < N; i++) {
        a = hamt_set(a, k[i], NULL);
    }
    for (unsigned i = N - 1; i > 0; i--) {
        unsigned j = (unsigned)(ref_rand(&seed) % (i + 1));
        unsigned t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    /* b: insert in another order, plus extra keys removed again. */
    const struct hamt *b = tk_empty();
    for (unsigned i = 0; i < N; i++) {
        b = hamt_set(b, tk_key(1000 + i, h[perm[i]] ^ 0x400), NULL);
        b = hamt_set(b, k[perm[i]], NULL);
    }
    for (unsigned i = 0; i < N; i++) {
        b = hamt_remove(b, tk_key(1000 + i, h[perm[i]] ^ 0x400));
    }
    cr_assert_eq(hamt__validate(a), 0);
    cr_assert_eq(hamt__validate(b), 0);
    char *sa = hamt__debug_shape(a, NULL), *sb = hamt__debug_shape(b, NULL);
    cr_assert_str_eq(sa, sb);
    free(sa);
    free(sb);
    cr_assert_eq(hamt_equal(a, b, NULL, NULL), 1);
}

Test(node, u64_map_shape_prints_keys)
{
    const struct hamt *m = hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(42), NULL);
    char *s = hamt__debug_shape(m, NULL);

    cr_assert_str_eq(s, "R{42}");
    free(s);
}

/*
 * Batches shrink the nodes they own in place; the words a shrink frees,
 * and the old owner tail, are cleared so that the collector (which scans
 * the whole block) does not keep the removed key and value alive
 * (hamt__nd_change_in_place, hamt__cn_remove_in_place).
 */
static bool
all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++) {
        if (b[i] != 0) {
            return false;
        }
    }
    return true;
}

#define W(x) ((void *)(uintptr_t)(x))

Test(node, shrinking_in_place_clears_the_freed_words)
{
    cr_assert_eq(hamt_init(), 0);
    struct node *n = hamt__nd_alloc(0, 3, 0, false);
    cr_assert_not_null(n);
    n->datamap = (1u << 1) | (1u << 2) | (1u << 3);
    n->nodemap = 0;
    for (unsigned i = 0; i < 6; i++) {
        n->slots[i] = W(0x1000 + i);
    }
    nd_tail_set(nd_tail(n), 77);
    size_t old_end = nd_bytes(3, 0), new_end = nd_bytes(2, 0);
    /* The last entry (fragment 3) goes. */
    cr_assert(
        hamt__nd_change_in_place(0, n, ND_REMOVE_ENTRY, 1u << 3, NULL, NULL));
    cr_assert_eq(n->datamap, (1u << 1) | (1u << 2));
    for (unsigned i = 0; i < 4; i++) {
        cr_assert_eq(n->slots[i], W(0x1000 + i));
    }
    cr_assert(
        all_zero((char *)n + new_end, old_end - new_end + HAMT_OWNER_BYTES),
        "the removed entry or the old tail is still in the block");
}

Test(node, collision_node_removal_in_place_clears_the_last_slot)
{
    cr_assert_eq(hamt_init(), 0);
    for (uint32_t victim = 0; victim < 4; victim++) {
        struct cnode *c = hamt__cn_alloc(4, false);
        cr_assert_not_null(c);
        for (unsigned i = 0; i < 8; i++) {
            c->slots[i] = W(0x2000 + i);
        }
        nd_tail_set(cn_tail(c), 77);
        hamt__cn_remove_in_place(c, victim);
        cr_assert_eq(c->count, 3);
        /* The last entry took the hole (or was the victim). */
        for (unsigned e = 0; e < 3; e++) {
            unsigned from = e < victim ? e : e + 1; /* order kept */
            cr_assert_eq(c->slots[2 * e], W(0x2000 + 2 * from));
            cr_assert_eq(c->slots[2 * e + 1], W(0x2000 + 2 * from + 1));
        }
        cr_assert(all_zero(&c->slots[6], 2 * sizeof(void *) + HAMT_OWNER_BYTES),
                  "victim %u: the freed slot or the old tail is not cleared",
                  victim);
    }
}

/* The collision node at the bottom of a map whose only path is single. */
static struct cnode *
bottom_cnode(const struct hamt *m)
{
    const void *p = hamt__root(m);
    unsigned shift = 0;

    while (!nd_is_collision_shift(shift)) {
        const struct node *n = p;
        cr_assert_eq(n->datamap, 0);
        cr_assert_eq(__builtin_popcount(n->nodemap), 1);
        p = nd_child(n, n->nodemap);
        shift += HAMT_BITS;
    }
    return (struct cnode *)(uintptr_t)p;
}

/*
 * hamt__validate() is the oracle of most tests here: it must name each
 * broken invariant, not only pass sound maps.  Each corruption below is
 * undone before the next.
 */
Test(node, validate_names_each_broken_invariant)
{
    const struct hamt *m = tk_map(3, (uint64_t[]){1, 33, 2});
    struct hamt *w = (struct hamt *)(uintptr_t)m;
    struct node *root = hamt__root(m);

    cr_assert_str_eq(tk_shape(m), "R{k2,N{k0,k1}}");
    w->size++;
    cr_assert_eq(hamt__validate(m), 6, "size does not match");
    w->size--;
    root->datamap |= root->nodemap;
    cr_assert_eq(hamt__validate(m), 1, "bitmaps overlap");
    root->datamap &= ~root->nodemap;
    struct tk *k2 = (struct tk *)(uintptr_t)nd_key(root, 0);
    k2->hash = 3;
    cr_assert_eq(hamt__validate(m), 2, "entry under another fragment");
    k2->hash = 2;
    struct node *child = nd_child(root, root->nodemap);
    uint32_t dm = child->datamap;
    /* Drop k1, the higher bit: one key left below the root. */
    child->datamap &= ~(UINT32_C(1) << (31 - __builtin_clz(dm)));
    cr_assert_eq(hamt__validate(m), 3, "subtree of one key");
    child->datamap = dm;
    cr_assert_eq(hamt__validate(m), 0);

    const struct hamt *c = tk_map(3, (uint64_t[]){0x2a, 0x2a, 0x2a});
    struct cnode *cn = bottom_cnode(c);
    cr_assert_eq(cn->count, 3);
    void *k = cn->slots[2];
    cn->slots[2] = cn->slots[0];
    cr_assert_eq(hamt__validate(c), 5, "duplicate key in a collision node");
    cn->slots[2] = k;
    struct tk *k0 = (struct tk *)(uintptr_t)cn->slots[0];
    k0->hash = 0x2b;
    cr_assert_eq(hamt__validate(c), 4, "key of another hash");
    k0->hash = 0x2a;
    const struct hamt *c2 = tk_map(2, (uint64_t[]){0x2a, 0x2a});
    struct cnode *cn2 = bottom_cnode(c2);
    cn2->count = 1;
    ((struct hamt *)(uintptr_t)c2)->size = 1;
    cr_assert_eq(hamt__validate(c2), 4, "collision node of one key");
    cn2->count = 2;
    ((struct hamt *)(uintptr_t)c2)->size = 2;
    cr_assert_eq(hamt__validate(c), 0);
    cr_assert_eq(hamt__validate(c2), 0);
}

/*
 * At shift 60 only fragments 0-15 exist (a hash has 4 bits left there):
 * an entry under bit 16-31 is misplaced, as a child there is, even when
 * its hash's top bits equal the bit number modulo 16.
 */
Test(node, validate_rejects_an_entry_past_the_last_fragment)
{
    const struct hamt *m = tk_map(2, (uint64_t[]){0, UINT64_C(1) << 60});
    const struct node *p = hamt__root(m);

    for (unsigned shift = 0; shift < 60; shift += HAMT_BITS) {
        cr_assert_eq(p->datamap, 0);
        cr_assert_eq(p->nodemap, 1);
        p = nd_child(p, 1);
    }
    struct node *last = (struct node *)(uintptr_t)p;
    cr_assert_eq(last->datamap, 0x3, "k0 under fragment 0, k1 under 1");
    cr_assert_eq(hamt__validate(m), 0);
    last->datamap = 0x1 | UINT32_C(1) << 17; /* k1 under fragment 17 */
    cr_assert_eq(hamt__validate(m), 2, "entry under a fragment no hash has");
    last->datamap = 0x3;
    cr_assert_eq(hamt__validate(m), 0);
}

/* The same for a child under fragment 16 at shift 60. */
Test(node, validate_rejects_a_child_past_the_last_fragment)
{
    /* Both hash to 0x2a: the node at shift 60 has its child under bit 0. */
    const struct hamt *m = tk_map(2, (uint64_t[]){0x2a, 0x2a});
    const struct node *p = hamt__root(m);

    for (unsigned shift = 0; shift < 60; shift += HAMT_BITS) {
        p = nd_child(p, p->nodemap);
    }
    struct node *last = (struct node *)(uintptr_t)p;
    cr_assert_eq(last->datamap, 0);
    cr_assert_eq(last->nodemap, 0x1);
    last->nodemap = UINT32_C(1) << 16;
    cr_assert_eq(hamt__validate(m), 2, "child under a fragment no hash has");
    last->nodemap = 0x1;
    cr_assert_eq(hamt__validate(m), 0);
}

#ifndef HAMT_NO_GC
/*
 * N6: a pointer-free block never holds a child, even in a scalar map, whose
 * childless nodes are pointer-free.  Checked before the child is visited.
 * Only with the collector: without it no block has a kind to check.
 */
Test(node, validate_rejects_a_child_in_a_pointer_free_node)
{
    const struct hamt *m = hamt_new_scalar(HAMT_KEY_U64);
    uint64_t k2 = 2;

    /* Two keys apart at the root under this process's random seed. */
    while (((hamt__hash_u64(k2) ^ hamt__hash_u64(1)) & HAMT_MASK) == 0) {
        k2++;
    }
    m = hamt_set(m, HAMT_U64(1), NULL);
    m = hamt_set(m, HAMT_U64(k2), NULL);
    struct node *root = hamt__root(m);
    uint32_t dm = root->datamap;
    cr_assert_eq(root->nodemap, 0);
    cr_assert_eq(__builtin_popcount(dm), 2);
    cr_assert_eq(hamt__alloc_kind(root), 1, "a childless scalar root");
    cr_assert_eq(hamt__validate(m), 0);
    /* The second entry's key word now reads as a child. */
    uint32_t hi = UINT32_C(1) << (31 - __builtin_clz(dm));
    root->datamap = dm & ~hi;
    root->nodemap = hi;
    cr_assert_eq(hamt__validate(m), 7, "a child in a pointer-free block");
    root->datamap = dm;
    root->nodemap = 0;
    cr_assert_eq(hamt__validate(m), 0);
}
#endif /* HAMT_NO_GC */

/* Each collision tree of a dump lists its keys from its own first one. */
Test(node, two_collision_trees_dump_their_keys_alike)
{
    const struct hamt *m = tk_empty_ordered();
    char a[512], want[1100];

    /* 0x2a and 0x2b differ in fragment 0: two paths of 12 nodes. */
    for (unsigned i = 0; i < 4; i++) {
        m = hamt_set(m, tk_key(i, i < 2 ? 0x2a : 0x2b), NULL);
    }
    snprintf(a, sizeof a, "%s", nest(12, "C{k0,k1}"));
    snprintf(want, sizeof want, "R{%s,%s}", a, nest(12, "C{k2,k3}"));
    cr_assert_str_eq(tk_shape(m), want);
    cr_assert_eq(hamt__validate(m), 0);
}

/* The same for collision trees (ordered key types, ctree.c). */
Test(node, validate_names_each_broken_collision_tree_invariant)
{
    const struct hamt *m = tk_empty_ordered();
    struct tk *k[3];

    for (unsigned i = 0; i < 3; i++) {
        k[i] = (struct tk *)(uintptr_t)tk_key(i, 0x2a);
        m = hamt_set(m, k[i], NULL);
    }
    struct ctree *t = (struct ctree *)bottom_cnode(m);
    cr_assert_eq(t->count, 3);
    cr_assert_eq(hamt__validate(m), 0);
    t->count = 4;
    cr_assert_eq(hamt__validate(m), 7, "count does not match the nodes (T3)");
    t->count = 3;
    k[1]->hash = 0x2b;
    cr_assert_eq(hamt__validate(m), 4, "key of another hash");
    k[1]->hash = 0x2a;
    k[0]->id = 5; /* now ordered after k1 and k2 */
    cr_assert_eq(hamt__validate(m), 5, "keys out of order (T1)");
    k[0]->id = 0;
    unsigned char h = t->root->h;
    t->root->h = (unsigned char)(h + 1);
    cr_assert_eq(hamt__validate(m), 7, "wrong height (T2)");
    t->root->h = h;
    cr_assert_eq(hamt__validate(m), 0);
}
