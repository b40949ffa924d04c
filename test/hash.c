/*
 * test/hash.c - the keyed hashes: SipHash-2-4 reference vectors, the
 * integer mixer's bijectivity, seeds (fixed, random, EBUSY once used).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

static const uint8_t ref_key[16] = {0, 1, 2,  3,  4,  5,  6,  7,
                                    8, 9, 10, 11, 12, 13, 14, 15};

/*
 * The first vectors of the SipHash-2-4 reference implementation
 * (key 00..0f, message 00 01 .. of length i), as 64-bit little-endian.
 */
static const uint64_t ref_vec[8] = {
    UINT64_C(0x726fdb47dd0e0e31), UINT64_C(0x74f839c593dc67fd),
    UINT64_C(0x0d6c8009d9a94f5a), UINT64_C(0x85676696d7fb7e2d),
    UINT64_C(0xcf2794e0277187b7), UINT64_C(0x18765564cd99a68d),
    UINT64_C(0xcbc9466e58fee3ce), UINT64_C(0xab0200f58b01d137),
};

Test(hash, siphash_matches_reference_vectors)
{
    uint8_t msg[8];

    cr_assert_eq(hamt_set_seed(ref_key), 0);
    for (unsigned i = 0; i < 8; i++) {
        msg[i] = (uint8_t)i;
        cr_assert_eq(hamt__hash_bytes(msg, i), ref_vec[i], "vector %u", i);
    }
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

Test(hash, integer_mixer_is_injective_on_a_large_sample)
{
    enum { N = 1 << 20 };
    uint64_t *h = malloc(N * sizeof *h);

    hamt_init();
    for (uint64_t i = 0; i < N; i++) {
        /* Consecutive, strided and high-bit keys. */
        uint64_t k = (i & 3) == 0 ? i : (i & 3) == 1 ? i << 20 : ~i;
        h[i] = hamt__hash_u64(k);
    }
    qsort(h, N, sizeof *h, cmp_u64);
    for (size_t i = 1; i < N; i++) {
        cr_assert_neq(h[i], h[i - 1]);
    }
    free(h);
}

/*
 * The seed can be set until make() gives the first map of a built-in kind,
 * and not after: EBUSY.
 */
static void
seed_busy_after(const struct hamt *(*make)(enum hamt_key_kind))
{
    uint8_t s[16] = {1};

    cr_assert_eq(hamt_set_seed(s), 0);
    cr_assert_not_null(make(HAMT_KEY_U64));
    errno = 0;
    cr_assert_eq(hamt_set_seed(s), -1);
    cr_assert_eq(errno, EBUSY);
}

Test(hash, seed_cannot_change_once_a_builtin_map_exists)
{
    seed_busy_after(hamt_new);
    errno = 0;
    cr_assert_eq(hamt_set_seed(NULL), -1);
    cr_assert_eq(errno, EINVAL);
}

/* Root fragment of key k as seen by a child process with HAMT_SEED=seed. */
static void
placement(const char *seed, uint64_t out[64])
{
    int fd[2];

    cr_assert_eq(pipe(fd), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fd[0]);
        if (seed != NULL) {
            setenv("HAMT_SEED", seed, 1);
        } else {
            unsetenv("HAMT_SEED");
        }
        hamt_init();
        uint64_t h[64];
        for (unsigned i = 0; i < 64; i++) {
            char key[16];
            snprintf(key, sizeof key, "key%u", i);
            h[i] =
                i < 32 ? hamt__hash_bytes(key, strlen(key)) : hamt__hash_u64(i);
        }
        ssize_t w = write(fd[1], h, sizeof h);
        _exit(w == (ssize_t)sizeof h ? 0 : 1);
    }
    close(fd[1]);
    cr_assert_eq(read(fd[0], out, 64 * sizeof(uint64_t)),
                 (ssize_t)(64 * sizeof(uint64_t)));
    close(fd[0]);
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

Test(hash, fixed_seed_reproduces_placement_and_other_seeds_differ)
{
    uint64_t a[64], b[64], c[64], r1[64], r2[64];

    placement("000102030405060708090a0b0c0d0e0f", a);
    placement("000102030405060708090a0b0c0d0e0f", b);
    placement("f00102030405060708090a0b0c0d0e0f", c);
    placement(NULL, r1);
    placement(NULL, r2);
    cr_assert_arr_eq(a, b, sizeof a);
    unsigned same_c = 0, same_r = 0;
    for (unsigned i = 0; i < 64; i++) {
        same_c += (a[i] & 31) == (c[i] & 31);
        same_r += (r1[i] & 31) == (r2[i] & 31);
    }
    /* Root slots agree by chance for about 2 of 64 keys; allow many more. */
    cr_assert_lt(same_c, 20);
    cr_assert_lt(same_r, 20);
    cr_assert_eq(memcmp(a, c, sizeof a) != 0, 1);
}

/*
 * With getrandom() refused (ENOSYS, as an old kernel or a sandbox), the seed
 * comes from libsodium's other source, and a successful hamt_init() leaves
 * errno as the caller had it: the failed system call used to leave ENOSYS
 * there.
 */
Test(hash, init_without_getrandom_succeeds_and_leaves_errno_alone)
{
    pid_t pid = fork();

    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct sock_filter f[] = {
            BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
                     offsetof(struct seccomp_data, nr)),
            BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getrandom, 0, 1),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
            BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = {sizeof f / sizeof f[0], f};
        void *v = NULL;

        unsetenv("HAMT_SEED");
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
            || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
            _exit(4);
        }
        if (syscall(SYS_getrandom, &v, sizeof v, 0) != -1 || errno != ENOSYS) {
            _exit(5);
        }
        errno = EXDEV;
        if (hamt_init() != 0) {
            _exit(1);
        }
        if (errno != EXDEV) {
            _exit(2);
        }
        const struct hamt *m = hamt_set(hamt_new(HAMT_KEY_U64), HAMT_U64(7),
                                        (void *)(uintptr_t)70);
        _exit(m != NULL && hamt_get(m, HAMT_U64(7), &v) && v == (void *)70 ? 0
                                                                           : 3);
    }
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st), "the child crashed");
    cr_assert_eq(WEXITSTATUS(st), 0,
                 "exit %d (1: init failed, 2: errno changed, 3: the map "
                 "failed, 4: no seccomp, 5: getrandom not refused)",
                 WEXITSTATUS(st));
}

Test(hash, malformed_hamt_seed_fails_init_with_einval)
{
    pid_t pid = fork();

    cr_assert_geq(pid, 0);
    if (pid == 0) {
        static const uint8_t seed[16] = {1};

        setenv("HAMT_SEED", "not-hex", 1);
        errno = 0;
        const struct hamt *m = hamt_new(HAMT_KEY_U64);
        if (m != NULL || errno != EINVAL) {
            _exit(1);
        }
        /* The failure is permanent: a seed set now would change nothing,
         * so setting one reports the failure instead of success. */
        errno = 0;
        if (hamt_set_seed(seed) != -1 || errno != EINVAL) {
            _exit(2);
        }
        errno = 0;
        m = hamt_new(HAMT_KEY_U64);
        _exit(m == NULL && errno == EINVAL ? 0 : 3);
    }
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st), "the child crashed");
    cr_assert_eq(WEXITSTATUS(st), 0,
                 "1: no EINVAL, 2: hamt_set_seed succeeded, 3: init healed");
}

static uint64_t
any_hash(const void *key, void *ctx)
{
    (void)ctx;
    return (uint64_t)(uintptr_t)key;
}

static bool
any_equal(const void *a, const void *b, void *ctx)
{
    (void)ctx;
    return a == b;
}

/*
 * The failed set-up fails every other call that needs it too, with its
 * errno (hamt_init(3)): the other constructors and the budget setters;
 * hamt_gc_budget() returns 0 and, a query, leaves errno alone.
 */
Test(hash, malformed_hamt_seed_fails_the_other_constructors_and_budget_calls)
{
    pid_t pid = fork();

    cr_assert_geq(pid, 0);
    if (pid == 0) {
        const struct hamt_key_type kt = {sizeof kt, any_hash, any_equal, NULL,
                                         NULL};

        setenv("HAMT_SEED", "0123456789abcdef0123456789ABCDEG", 1);
        errno = 0;
        if (hamt_new_scalar(HAMT_KEY_U64) != NULL || errno != EINVAL) {
            _exit(1);
        }
        errno = 0;
        if (hamt_new_custom(&kt) != NULL || errno != EINVAL) {
            _exit(2);
        }
        errno = 0;
        if (hamt_gc_set_budget((size_t)1 << 20) != -1 || errno != EINVAL) {
            _exit(3);
        }
        errno = 0;
        if (hamt_gc_set_budget_factor(2, (size_t)1 << 20) != -1
            || errno != EINVAL) {
            _exit(4);
        }
        errno = EXDEV;
        if (hamt_gc_budget() != 0 || errno != EXDEV) {
            _exit(5);
        }
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st), "the child crashed");
    cr_assert_eq(WEXITSTATUS(st), 0,
                 "1: hamt_new_scalar, 2: hamt_new_custom, 3: "
                 "hamt_gc_set_budget, 4: hamt_gc_set_budget_factor, 5: "
                 "hamt_gc_budget");
}

/*
 * HAMT_SEED is the 16 bytes of the seed, in order, as 32 hexadecimal
 * digits (hamt_init(3)), of either case: the reference key 00..0f given
 * that way hashes as the reference vectors say.
 */
Test(hash, hamt_seed_from_the_environment_is_the_seed_bytes_in_order)
{
    pid_t pid = fork();

    cr_assert_geq(pid, 0);
    if (pid == 0) {
        uint8_t msg[8];

        setenv("HAMT_SEED", "000102030405060708090A0b0C0d0E0f", 1);
        if (hamt_init() != 0) {
            _exit(1);
        }
        for (unsigned i = 0; i < 8; i++) {
            msg[i] = (uint8_t)i;
            if (hamt__hash_bytes(msg, i) != ref_vec[i]) {
                _exit(2);
            }
        }
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st), "the child crashed");
    cr_assert_eq(WEXITSTATUS(st), 0, "1: init failed, 2: another seed");
}

/*
 * The first map of any built-in kind puts the seed in use, a scalar map's
 * (hamt_new_scalar) as much as a plain one's.
 */
Test(hash, seed_cannot_change_once_a_scalar_map_exists)
{
    seed_busy_after(hamt_new_scalar);
}

/*
 * Every byte of the seed keys the integer hash: two seeds that differ in
 * one byte only hash some key differently.
 */
Test(hash, every_seed_byte_changes_the_integer_hash)
{
    uint8_t s[16] = {0};

    for (unsigned i = 0; i < 16; i++) {
        s[i] = 0;
        cr_assert_eq(hamt_set_seed(s), 0);
        uint64_t before = hamt__hash_u64(42);
        s[i] = 0x5a;
        cr_assert_eq(hamt_set_seed(s), 0);
        cr_assert_neq(hamt__hash_u64(42), before, "seed byte %u unused", i);
    }
}

/*
 * In a child with HAMT_SEED=env: hamt_set_seed(ref_key) first when
 * set_first, then hamt_init().  Exits 1 if hamt_init() failed, 2 if the
 * hashes then differ from those under the seed `want` (set afterwards:
 * no map exists yet), 0 otherwise.
 */
static int
seed_child(const char *env, bool set_first, const uint8_t want[16])
{
    pid_t pid = fork();

    cr_assert_geq(pid, 0);
    if (pid == 0) {
        uint8_t msg[8];
        uint64_t h[9];

        setenv("HAMT_SEED", env, 1);
        if (set_first && hamt_set_seed(ref_key) != 0) {
            _exit(3);
        }
        if (hamt_init() != 0) {
            _exit(1);
        }
        for (unsigned i = 0; i < 8; i++) {
            msg[i] = (uint8_t)(0x11 * i);
            h[i] = hamt__hash_bytes(msg, i);
        }
        h[8] = hamt__hash_u64(42);
        if (hamt_set_seed(want) != 0) {
            _exit(3);
        }
        for (unsigned i = 0; i < 8; i++) {
            if (hamt__hash_bytes(msg, i) != h[i]) {
                _exit(2);
            }
        }
        _exit(hamt__hash_u64(42) == h[8] ? 0 : 2);
    }
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st), "the child crashed");
    return WEXITSTATUS(st);
}

static const uint8_t every_nibble[16] = {0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5,
                                         0x96, 0x87, 0x78, 0x69, 0x5a, 0x4b,
                                         0x3c, 0x2d, 0x1e, 0x0f};

/*
 * HAMT_SEED is exactly 32 digits, each pair one byte, high digit first, of
 * either case: A-F as much as a-f.
 */
Test(hash, hamt_seed_reads_each_digit_of_either_case_and_nothing_more)
{
    cr_assert_eq(
        seed_child("f0e1d2c3b4a5968778695a4b3c2d1e0f", false, every_nibble), 0);
    cr_assert_eq(
        seed_child("F0E1D2C3B4A5968778695A4B3C2D1E0F", false, every_nibble), 0);
    cr_assert_eq(
        seed_child("f0e1d2c3b4a5968778695a4b3c2d1e0f0", false, every_nibble), 1,
        "a 33rd digit is malformed");
    cr_assert_eq(
        seed_child("f0e1d2c3b4a5968778695a4b3c2d1e0f ", false, every_nibble), 1,
        "a trailing space is malformed");
}

/* hamt_set_seed() before the first hamt_init() overrides HAMT_SEED. */
Test(hash, a_seed_set_before_init_overrides_hamt_seed)
{
    cr_assert_eq(seed_child("f0e1d2c3b4a5968778695a4b3c2d1e0f", true, ref_key),
                 0);
}
