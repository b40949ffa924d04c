/*
 * payload.h - values that can tell whether they were reclaimed, and the
 * invariant of the "one key per version" publication stress shared by
 * test/stress/cell_stress.c and test/thread.c.
 *
 * A payload is a collector object {magic, self, key, ver}; once reclaimed
 * and reused, its words no longer agree.  The maps have keys 0..nkeys-1
 * and a meta key nkeys; version v (v >= 1) is the previous version with key
 * v % nkeys and the meta key rebound to fresh payloads of version v.  So a
 * snapshot (map, version v) from one load must have size nkeys + 1, a meta
 * payload of version v, and for every key k the payload of the last
 * version u <= v with u % nkeys == k (or 0).
 */
#ifndef TEST_STRESS_PAYLOAD_H
#define TEST_STRESS_PAYLOAD_H

#include "internal.h"

#define PAYLOAD_MAGIC 0x5ca1ab1e0ddba11ull

struct payload {
    uint64_t magic;
    const struct payload *self;
    uint64_t key;
    uint64_t ver;
};

static inline uint64_t
payload_magic(uint64_t key, uint64_t ver)
{
    return PAYLOAD_MAGIC ^ key ^ (ver * 0x9e3779b97f4a7c15ull);
}

/* A fresh payload in collector memory, or NULL (errno = ENOMEM). */
static inline struct payload *
payload_alloc(uint64_t key, uint64_t ver)
{
    struct payload *p = hamt__alloc(sizeof *p);

    if (p != NULL) {
        p->magic = payload_magic(key, ver);
        p->self = p;
        p->key = key;
        p->ver = ver;
    }
    return p;
}

static inline bool
payload_ok(const void *val, uint64_t key, uint64_t ver)
{
    const struct payload *p = val;

    return p != NULL && p->self == p && p->key == key && p->ver == ver
           && p->magic == payload_magic(key, ver);
}

/* The version of key k's payload in the map of version v. */
static inline uint64_t
payload_expected_ver(uint64_t k, uint64_t v, uint64_t nkeys)
{
    uint64_t d = (v % nkeys + nkeys - k) % nkeys;

    return d > v ? 0 : v - d;
}

/* Whether (m, v) satisfies the invariant described at the top. */
static inline bool
payload_snapshot_ok(const struct hamt *m, uint64_t v, uint64_t nkeys)
{
    void *val;

    if (m == NULL || hamt_size(m) != nkeys + 1) {
        return false;
    }
    if (!hamt_get(m, HAMT_U64(nkeys), &val) || !payload_ok(val, nkeys, v)) {
        return false;
    }
    for (uint64_t k = 0; k < nkeys; k++) {
        if (!hamt_get(m, HAMT_U64(k), &val)
            || !payload_ok(val, k, payload_expected_ver(k, v, nkeys))) {
            return false;
        }
    }
    return true;
}

#endif /* TEST_STRESS_PAYLOAD_H */
