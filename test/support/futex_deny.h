/*
 * futex_deny.h - a seccomp filter that makes the futex wait of the calling
 * thread fail, as a sandbox that refuses futex does (test/cell.c,
 * test/combine.c).  Header-only, as u64map.h.
 */
#ifndef HAMT_TEST_FUTEX_DENY_H
#define HAMT_TEST_FUTEX_DENY_H

#include <criterion/criterion.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

/*
 * For the calling thread only: the futex operation that the library's
 * waits sleep in (FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG: hamt_cell_wait(),
 * a combined update's submitter) fails with `err`, and, when nap_err is
 * not 0, clock_nanosleep() (the library's naps) with nap_err; every other
 * system call, and every other futex operation (the collector's locks wait
 * with FUTEX_WAIT), is allowed.  The filter does not check the
 * architecture: it is the test's own thread, making native calls only.
 */
static inline void
deny_futex_wait_and_nap(int err, int nap_err)
{
    enum {
        ARG1 = offsetof(struct seccomp_data, args[1])
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
               + 4
#endif
    };
    const unsigned nap_ret =
        nap_err != 0
            ? SECCOMP_RET_ERRNO | ((unsigned)nap_err & SECCOMP_RET_DATA)
            : SECCOMP_RET_ALLOW;
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clock_nanosleep, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, nap_ret),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_futex, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, ARG1),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
                 FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, 0, 1),
        BPF_STMT(BPF_RET | BPF_K,
                 SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof f / sizeof f[0], f};

    cr_assert_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0,
                 "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
    cr_assert_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0,
                 "seccomp filter: %s", strerror(errno));
}

/* The futex wait alone fails with `err`; naps work. */
static inline void
deny_futex_wait(int err)
{
    deny_futex_wait_and_nap(err, 0);
}

#endif /* HAMT_TEST_FUTEX_DENY_H */
