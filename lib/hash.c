/*
 * hash.c - the keyed default hashes of the built-in key kinds.
 *
 * Bits per level.  A hash is 64 bits.  Level d of the trie uses bits
 * 5d .. 5d+4 (fragment (h >> 5d) & 31), so levels 0..11 use 5 bits each
 * and level 12 uses the top 4 bits (fragments 0..15).  When all 64 bits are
 * used up - two keys with the same full hash - the keys go into a collision
 * node at depth 13 (node.c).  The depth of the trie is therefore bounded by
 * 14 nodes, which is what lets iterators live on the stack.
 *
 * Why keyed.  If an attacker can predict hashes, they can choose keys that
 * all share one path (deep trie) or one full hash (one long collision node
 * with linear search: quadratic total work).  So the built-in hashes are
 * keyed with a 16-byte seed drawn from getrandom() once per process:
 *
 *   - strings and byte strings: SipHash-2-4, a keyed pseudo-random function,
 *     taken from libsodium (crypto_shorthash_siphash24) rather than written
 *     here: a well-kept, packaged, vector-tested implementation;
 *   - 64-bit integers and pointers: a keyed bijection, k -> fmix64(k ^ s0) +
 *     s1 (fmix64 is MurmurHash3's finaliser; xor with a constant, xorshift,
 *     multiplication by an odd constant and addition are each invertible).
 *     Distinct integers can therefore never collide in full, and the trie
 *     depth stays bounded without collision nodes.  It is not a PRF; it is
 *     cheap, and the bijection caps what an attacker can achieve at the
 *     13-level depth bound.
 *
 * Reproducibility.  hamt_set_seed() or the environment variable HAMT_SEED
 * (32 hex digits, read by hamt_init()) fix the seed.  The seed can only be
 * changed before the first map of a built-in kind is created
 * (hamt__seed_use()), since existing maps depend on it.
 *
 * Thread safety: the seed is written only under `seed_lock`, before any map
 * that uses it exists; the hash functions read it afterwards without
 * synchronisation, ordered after the write by whatever published the map to
 * the reading thread.
 */
#include "internal.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static pthread_mutex_t seed_lock = PTHREAD_MUTEX_INITIALIZER;
static bool seed_ready; /* under seed_lock */
static bool seed_used;  /* under seed_lock */
static int seed_error;  /* under seed_lock: errno of a failed init */
static unsigned char seed[crypto_shorthash_siphash24_KEYBYTES];
/*
 * The seed as two words, for integers: read by hamt__hash_u64(), which is
 * inline in internal.h (hidden symbols, not exported).
 */
uint64_t hamt__seed_k0, hamt__seed_k1;

/* Sets hamt__seed_k0/k1 from seed[]; call under seed_lock. */
static void
hash_seed_words(void)
{
    memcpy(&hamt__seed_k0, seed, 8);
    memcpy(&hamt__seed_k1, seed + 8, 8);
}

/* Parses 32 hex digits into out; false if malformed. */
static bool
hash_parse_hex(const char *s, unsigned char out[16])
{
    for (size_t i = 0; i < 16; i++) {
        unsigned v = 0;
        for (size_t j = 0; j < 2; j++) {
            char c = s[2 * i + j];
            v <<= 4;
            if (c >= '0' && c <= '9') {
                v |= (unsigned)(c - '0');
            } else if (c >= 'a' && c <= 'f') {
                v |= (unsigned)(c - 'a' + 10);
            } else if (c >= 'A' && c <= 'F') {
                v |= (unsigned)(c - 'A' + 10);
            } else {
                return false;
            }
        }
        out[i] = (unsigned char)v;
    }
    return s[32] == '\0';
}

int
hamt__hash_init(void)
{
    int rc = 0;

    pthread_mutex_lock(&seed_lock);
    if (!seed_ready && seed_error == 0) {
        const char *env = getenv("HAMT_SEED");
        if (env != NULL) {
            if (!hash_parse_hex(env, seed)) {
                seed_error = EINVAL;
            }
        } else {
            size_t got = 0;
            while (got < sizeof seed) {
                ssize_t r = getrandom(seed + got, sizeof seed - got, 0);
                if (r < 0 && errno == EINTR) {
                    continue;
                }
                if (r <= 0) {
                    break;
                }
                got += (size_t)r;
            }
            if (got < sizeof seed) {
                /* No getrandom(): libsodium finds another source. */
                if (sodium_init() < 0) {
                    seed_error = ENOMEM;
                } else {
                    randombytes_buf(seed, sizeof seed);
                }
            }
        }
        if (seed_error == 0) {
            hash_seed_words();
            seed_ready = true;
        }
    }
    if (seed_error != 0) {
        errno = seed_error;
        rc = -1;
    }
    pthread_mutex_unlock(&seed_lock);
    return rc;
}

void
hamt__seed_use(void)
{
    pthread_mutex_lock(&seed_lock);
    seed_used = true;
    pthread_mutex_unlock(&seed_lock);
}

int
hamt_set_seed(const uint8_t s[16])
{
    int rc = 0;

    if (s == NULL) {
        errno = EINVAL;
        return -1;
    }
    /* A failed set-up is permanent: a seed set now would change nothing. */
    int e = hamt__init_error();

    if (e != 0) {
        errno = e;
        return -1;
    }
    pthread_mutex_lock(&seed_lock);
    if (seed_used) {
        errno = EBUSY;
        rc = -1;
    } else {
        memcpy(seed, s, sizeof seed);
        hash_seed_words();
        seed_ready = true;
        seed_error = 0;
    }
    pthread_mutex_unlock(&seed_lock);
    return rc;
}

uint64_t
hamt__hash_bytes(const void *p, size_t n)
{
    unsigned char out[crypto_shorthash_siphash24_BYTES];
    uint64_t h;

    crypto_shorthash_siphash24(out, p, n, seed);
    memcpy(&h, out, sizeof h);
    return h;
}
