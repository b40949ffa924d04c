/*
 * keys.c - key kinds and key types: the built-in kinds' shared empty maps,
 * the registry of custom key types, and what each kind does with a key
 * (hash, equality, validity, the stored copy).  map.c, ops.c and debug.c
 * reach keys only through the hamt__key_* functions here.
 *
 * A key type (struct hamt__kt, internal.h) is resolved once, when its
 * empty map is made, and every map derived from it points to it: the five
 * built-in ones (one per built-in kind, and hamt_new_scalar()'s u64 type)
 * are static, a custom one is made by hamt__new_custom() and kept in the
 * registry for the life of the process, so that the same
 * (hash, equal, compare, ctx) always gives the same empty map and maps made
 * from it
 * can be compared, merged and diffed.
 *
 * String and byte-string keys are copied on insertion into one
 * pointer-free block (gc.c rule 2), so a caller may reuse its buffer at
 * once; every other kind stores the key word itself.
 */
#include "node.h"

#include <pthread.h>
#include <string.h>

/* ---- key types ---- */

/* The shared empty map of each built-in kind: a header and an empty root. */
struct keys_empty {
    struct hamt h;
    union {
        struct node node;
        /* Room for the owner tail (node.h), which stays 0. */
        unsigned char bytes[sizeof(struct node) + HAMT_OWNER_BYTES];
    } root;
};

static struct hamt__kt builtin_kts[];

#define KEYS_EMPTY_INIT(i)                                                     \
    {                                                                          \
        .h = {.kt = &builtin_kts[i], .size = 0},                               \
        .root = {.node = {.datamap = 0, .nodemap = 0}},                        \
    }

static struct keys_empty builtin_empty[5] = {
    KEYS_EMPTY_INIT(0), KEYS_EMPTY_INIT(1), KEYS_EMPTY_INIT(2),
    KEYS_EMPTY_INIT(3), KEYS_EMPTY_INIT(4)};

/*
 * The key types of the built-in kinds, then (index 4) the u64 maps of
 * hamt_new_scalar(), a key type of its own: its maps never mix with plain
 * u64 maps (equality and the set algebra refuse maps of different key
 * types), so a pointer value can never enter a pointer-free node through
 * them.
 */
#define KEYS_KT_SCALAR_U64 4
static struct hamt__kt builtin_kts[] = {
    {.kind = HAMT_KEY_STRING, .empty = &builtin_empty[0].h},
    {.kind = HAMT_KEY_BYTES, .empty = &builtin_empty[1].h},
    {.kind = HAMT_KEY_U64, .empty = &builtin_empty[2].h},
    {.kind = HAMT_KEY_PTR, .empty = &builtin_empty[3].h},
    {.kind = HAMT_KEY_U64, .scalar = true, .empty = &builtin_empty[4].h},
};

/*
 * Registry of custom key types, so that the same (hash, equal, compare,
 * ctx) always gives the same empty map.  A global, hence scanned by the
 * collector; the list is only appended to, under the mutex (creation is
 * not a hot path).
 */
static pthread_mutex_t kt_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hamt__kt *kt_registry;

const struct hamt *
hamt__new_builtin(enum hamt_key_kind kind)
{
    if (kind < HAMT_KEY_STRING || kind > HAMT_KEY_PTR) {
        errno = EINVAL;
        return NULL;
    }
    hamt__seed_use();
    return builtin_kts[kind - HAMT_KEY_STRING].empty;
}

/*
 * Only u64 keys live in the word.  String and byte-string keys are pointers
 * to copies the node must keep alive; HAMT_KEY_PTR keys are pointers whose
 * referents the map keeps alive today (a pointer-free node would let the
 * address be reused by another object, which would then match the key);
 * custom keys are whatever their callbacks read.
 */
const struct hamt *
hamt__new_scalar(enum hamt_key_kind kind)
{
    if (kind != HAMT_KEY_U64) {
        errno = EINVAL;
        return NULL;
    }
    hamt__seed_use();
    return builtin_kts[KEYS_KT_SCALAR_U64].empty;
}

const struct hamt *
hamt__new_custom(const struct hamt_key_type *ukt)
{
    struct hamt__kt *kt;
    struct hamt *m;
    const struct hamt *result = NULL;

    pthread_mutex_lock(&kt_lock);
    for (kt = kt_registry; kt != NULL; kt = kt->next) {
        if (kt->hash == ukt->hash && kt->equal == ukt->equal
            && kt->compare == ukt->compare && kt->ctx == ukt->ctx) {
            result = kt->empty;
            goto out;
        }
    }
    kt = hamt__alloc(sizeof *kt);
    m = hamt__alloc(sizeof(struct hamt) + nd_bytes(0, 0) + HAMT_OWNER_BYTES);
    if (kt == NULL || m == NULL) {
        goto out; /* errno = ENOMEM from hamt__alloc */
    }
    kt->kind = HAMT_KEY_CUSTOM;
    kt->hash = ukt->hash;
    kt->equal = ukt->equal;
    kt->compare = ukt->compare;
    kt->ctx = ukt->ctx;
    m->kt = kt;
    m->size = 0;
    kt->empty = m;
    kt->next = kt_registry;
    kt_registry = kt;
    result = m;
out:
    pthread_mutex_unlock(&kt_lock);
    return result;
}

/* ---- keys ---- */

/*
 * The hash of a byte-string key: of its bytes only, so that a probe and the
 * stored copy (hamt__key_store) hash alike.
 */
static inline uint64_t
keys_hash_bytes(const struct hamt_bytes *b)
{
    return hamt__hash_bytes(b->data, b->len);
}

uint64_t
hamt__key_hash(const struct hamt__kt *kt, const void *key)
{
    switch (kt->kind) {
    case HAMT_KEY_STRING:
        return hamt__hash_bytes(key, strlen(key));
    case HAMT_KEY_BYTES:
        return keys_hash_bytes(key);
    case HAMT_KEY_U64:
    case HAMT_KEY_PTR:
        return hamt__hash_u64((uint64_t)(uintptr_t)key);
    case HAMT_KEY_CUSTOM:
        return kt->hash(key, kt->ctx);
    }
    HAMT_UNREACHABLE();
    return 0;
}

bool
hamt__key_eq(const struct hamt__kt *kt, const void *stored, const void *probe)
{
    switch (kt->kind) {
    case HAMT_KEY_STRING:
        return stored == probe || strcmp(stored, probe) == 0;
    case HAMT_KEY_BYTES: {
        const struct hamt_bytes *a = stored, *b = probe;
        return a->len == b->len
               && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
    }
    case HAMT_KEY_U64:
    case HAMT_KEY_PTR:
        return stored == probe;
    case HAMT_KEY_CUSTOM:
        return kt->equal(stored, probe, kt->ctx);
    }
    HAMT_UNREACHABLE();
    return false;
}

/*
 * The word to store for a new key: a private copy for strings and byte
 * strings (pointer-free block), the key word itself otherwise.  False with
 * errno = ENOMEM.
 */
bool
hamt__key_store(const struct hamt__kt *kt, const void *key, const void **out)
{
    if (kt->kind == HAMT_KEY_STRING) {
        size_t n = strlen(key) + 1;
        char *s = hamt__alloc_atomic(n);
        if (s == NULL) {
            return false;
        }
        memcpy(s, key, n);
        *out = s;
    } else if (kt->kind == HAMT_KEY_BYTES) {
        const struct hamt_bytes *b = key;
        struct hamt_bytes *c = hamt__alloc_atomic(sizeof *c + b->len);
        if (c == NULL) {
            return false;
        }
        /*
         * c->data points into the same pointer-free block; the block is
         * kept alive by the pointer to its start that the node holds.
         */
        c->len = b->len;
        c->data = c + 1;
        if (b->len != 0) {
            memcpy(c + 1, b->data, b->len);
        }
        *out = c;
    } else {
        *out = key;
    }
    return true;
}
