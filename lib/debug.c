/*
 * debug.c - dump and validate tries, for the tests, the fuzzer, the soak
 * test and the bench (hidden symbols; the library itself never calls them).
 *
 * Dump format (hamt__debug_shape): the root prints as R{...}, a bitmap node
 * as N{...}, a collision node as C{...}; inside the braces come the node's
 * entries in slot order, then its children, separated by commas.  An entry
 * prints as its label: the caller's label function if given, else the
 * decimal integer (u64 maps), the string (string maps), or "e".  The tests
 * of node.c and map.c compare these strings to assert exact shapes.
 *
 * hamt__validate() checks the invariants N1-N4 and N6 of node.c (T1-T3
 * and T5 of ctree.c for collision trees) and the size of the map,
 * recomputing every key's hash.  It returns 0 or a code:
 *   1 datamap and nodemap overlap        2 an entry is under the wrong bit
 *   3 a non-root node holds fewer than two keys (not canonical)
 *   4 a collision node has fewer than two entries or differing hashes
 *   5 duplicate keys in a collision node (or a collision tree's keys out
 *     of order)                            6 size mismatch
 *   7 a collision tree's heights, balance, key copies or count are wrong
 *     (ctree.c), or a pointer-free block holds a child or belongs to a
 *     map whose values are not scalars (N6)
 * A collision tree dumps as C{...} too, its keys in order.
 */
#define _GNU_SOURCE
#include "node.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctree.h"

#ifdef HAMT_TEST_HOOKS
_Thread_local unsigned long hamt__nodes_visited;
#endif

struct dump {
    FILE *f;
    const struct hamt__kt *kt;
    const char *(*label)(const void *key);
    bool first_done; /* a collision tree's walk has printed a key */
};

static void
debug_label(struct dump *d, const void *key)
{
    if (d->label != NULL) {
        fputs(d->label(key), d->f);
    } else if (d->kt->kind == HAMT_KEY_U64) {
        fprintf(d->f, "%" PRIu64, (uint64_t)(uintptr_t)key);
    } else if (d->kt->kind == HAMT_KEY_STRING) {
        fputs(key, d->f);
    } else {
        fputc('e', d->f);
    }
}

static int
debug_dump_key(const void *key, void *val, void *ctx)
{
    struct dump *d = ctx;

    (void)val;
    if (d->first_done) {
        fputc(',', d->f);
    }
    d->first_done = true;
    debug_label(d, key);
    return 0;
}

static void
debug_dump(struct dump *d, const void *p, unsigned shift, char tag)
{
    bool first = true;

    fputc(tag, d->f);
    fputc('{', d->f);
    if (nd_is_collision_shift(shift) && ct_ordered(d->kt)) {
        d->first_done = false;
        hamt__ct_walk(p, debug_dump_key, d);
    } else if (nd_is_collision_shift(shift)) {
        const struct cnode *c = p;
        for (uint32_t i = 0; i < c->count; i++) {
            if (!first) {
                fputc(',', d->f);
            }
            first = false;
            debug_label(d, c->slots[2 * i]);
        }
    } else {
        const struct node *n = p;
        unsigned ne = nd_nentries(n), nc = nd_nchildren(n);
        for (unsigned i = 0; i < ne; i++) {
            if (!first) {
                fputc(',', d->f);
            }
            first = false;
            debug_label(d, nd_key(n, i));
        }
        for (unsigned j = 0; j < nc; j++) {
            if (!first) {
                fputc(',', d->f);
            }
            first = false;
            unsigned cs = shift + HAMT_BITS;
            debug_dump(d, n->slots[2 * ne + j], cs,
                       nd_is_collision_shift(cs) ? 'C' : 'N');
        }
    }
    fputc('}', d->f);
}

char *
hamt__debug_shape(const struct hamt *m, const char *(*label)(const void *))
{
    char *buf = NULL;
    size_t len = 0;
    struct dump d = {.kt = m->kt, .label = label};

    d.f = open_memstream(&buf, &len);
    if (d.f == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    debug_dump(&d, hamt__root(m), 0, 'R');
    if (fclose(d.f) != 0) {
        free(buf);
        errno = ENOMEM;
        return NULL;
    }
    return buf;
}

/* Validates the subtree at `p`; adds its key count to *count. */
static int
debug_validate(const struct hamt__kt *kt, const void *p, unsigned shift,
               uint64_t prefix, bool is_root, size_t *count)
{
    /* Bits of the hash fixed by the path down to this node. */
    uint64_t pmask = shift >= 64 ? UINT64_MAX : ((UINT64_C(1) << shift) - 1);

    if (nd_is_collision_shift(shift) && ct_ordered(kt)) {
        return hamt__ct_validate(kt, p, prefix, count);
    }
    if (nd_is_collision_shift(shift)) {
        const struct cnode *c = p;
        if (c->count < 2) {
            return 4;
        }
        if (hamt__alloc_kind(c) == 1 && !kt->scalar) {
            return 7;
        }
        for (uint32_t i = 0; i < c->count; i++) {
            if (hamt__key_hash(kt, c->slots[2 * i]) != prefix) {
                return 4;
            }
            for (uint32_t j = 0; j < i; j++) {
                if (hamt__key_eq(kt, c->slots[2 * j], c->slots[2 * i])) {
                    return 5;
                }
            }
        }
        *count += c->count;
        return 0;
    }
    const struct node *n = p;
    if (n->datamap & n->nodemap) {
        return 1;
    }
    /*
     * N6: a pointer-free block holds no child, and only maps whose values
     * are scalars have any (-1: not a collector block, e.g. a static empty
     * map or a build without the collector).
     */
    if (hamt__alloc_kind(n) == 1 && (n->nodemap != 0 || !kt->scalar)) {
        return 7;
    }
    size_t before = *count;
    unsigned i = 0;
    for (uint32_t f = 0; f < HAMT_FANOUT; f++) {
        uint32_t bit = UINT32_C(1) << f;
        uint64_t fp = prefix | ((uint64_t)f << shift);
        if (shift == 60 && f >= 16 && ((n->datamap | n->nodemap) & bit)) {
            /* No hash has these bits; fp, shifted past bit 63, lost one. */
            return 2;
        }
        if (n->datamap & bit) {
            uint64_t h = hamt__key_hash(kt, nd_key(n, i));
            if ((h & (pmask | ((uint64_t)HAMT_MASK << shift))) != fp) {
                return 2;
            }
            i++;
            (*count)++;
        } else if (n->nodemap & bit) {
            int rc = debug_validate(kt, nd_child(n, bit), shift + HAMT_BITS, fp,
                                    false, count);
            if (rc != 0) {
                return rc;
            }
        }
    }
    if (!is_root && *count - before < 2) {
        return 3;
    }
    return 0;
}

int
hamt__validate(const struct hamt *m)
{
    size_t count = 0;
    int rc = debug_validate(m->kt, hamt__root(m), 0, 0, true, &count);

    if (rc == 0 && count != m->size) {
        rc = 6;
    }
    return rc;
}
