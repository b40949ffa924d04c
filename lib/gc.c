/*
 * gc.c - glue to the Boehm collector: initialisation, allocation, and the
 * collector-off allocator used by sanitizer builds.
 *
 * Four rules of the collector that the rest of the library relies on:
 *
 *  1. Pointers.  Nodes, map headers and cells come from GC_MALLOC, which is
 *     scanned conservatively: any word that looks like a pointer into an
 *     object keeps it alive.  The library never hides pointers (no high-bit
 *     tags, no XOR tricks); low-bit tags and interior pointers would be
 *     recognised only because interior-pointer recognition is on by default,
 *     and the library does not change that setting.  The root node of a map
 *     lives inside the map's block, so an iterator's pointer to it is an
 *     interior pointer - it always travels with the map pointer too.
 *
 *  2. Pointer-free blocks.  GC_MALLOC_ATOMIC memory is not scanned, so it may
 *     only hold bytes: the copies of string and byte-string keys.  A node,
 *     key or value pointer stored there would not keep its target alive.
 *
 *  3. Threads.  A thread the collector does not know is not scanned: a map
 *     held only on its stack can be reclaimed while in use.  hamt_init()
 *     calls GC_INIT() and GC_allow_register_threads(); thread.c registers
 *     other threads.  GC_THREADS is defined before <gc/gc.h> here and in
 *     every other file that includes it.
 *
 *  4. Roots the collector does not see.  malloc memory and thread-local
 *     storage are not scanned: a map referenced only from there can be
 *     reclaimed.  The library never keeps the only reference to a version in
 *     such memory, and hamt(3) tells callers not to either.
 *
 * With --disable-gc (HAMT_NO_GC), allocation goes to calloc/malloc and is
 * never freed: ThreadSanitizer cannot run a program that uses libgc, and ASan
 * cannot see overflows inside collector objects.  That mode is for short
 * sanitizer runs only.
 *
 * Fault injection: hamt__fail_after(n, persistent) makes the n-th allocation
 * from now fail with ENOMEM (and all later ones when persistent), so tests
 * can fail every allocation of an operation in turn.
 */
#include "internal.h"

#include <malloc.h>
#include <stdlib.h>

#ifndef HAMT_NO_GC
#define GC_THREADS
#include <gc/gc.h>
#endif

/*
 * Fault-injection state.  Plain variables: only single-threaded tests set
 * them, and the hot path reads `fail_armed` once per allocation.
 */
static bool fail_armed;
static bool fail_persistent;
static unsigned long fail_countdown;
/*
 * Allocations made by this thread.  Thread-local, so counting costs no
 * atomic operation; tests read it from the thread that allocated.
 */
static _Thread_local unsigned long alloc_count;

void
hamt__fail_after(unsigned long n, bool persistent)
{
    fail_armed = n != 0;
    fail_countdown = n;
    fail_persistent = persistent;
}

unsigned long
hamt__alloc_count(void)
{
    return alloc_count;
}

/* Decides whether this allocation is the injected failure. */
static bool
gc_fail_now(void)
{
    if (HAMT_LIKELY(!fail_armed)) {
        return false;
    }
    if (fail_countdown > 1) {
        fail_countdown--;
        return false;
    }
    if (!fail_persistent) {
        fail_armed = false;
    }
    fail_countdown = 0;
    return true;
}

int
hamt__gc_init(void)
{
#if defined(HAMT_POPCNT) && (defined(__x86_64__) || defined(__i386__))
    /* Compiled with -mpopcnt (configure.ac): refuse a CPU without it. */
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("popcnt")) {
        errno = ENOTSUP;
        return -1;
    }
#endif
#ifndef HAMT_NO_GC
    /*
     * GC_INIT is idempotent; GC_allow_register_threads must come after it
     * and before any thread registers.  Both are cheap after the first call.
     */
    if (!GC_is_init_called()) {
        GC_INIT();
    }
    GC_allow_register_threads();
#endif
    return 0;
}

/* One allocation, scanned (GC_MALLOC, zeroed) or pointer-free. */
static void *
gc_alloc(size_t n, bool atomic)
{
    void *p;

    alloc_count++;
    if (HAMT_UNLIKELY(gc_fail_now())) {
        errno = ENOMEM;
        return NULL;
    }
#ifdef HAMT_NO_GC
    p = atomic ? malloc(n ? n : 1) : calloc(1, n);
#else
    p = atomic ? GC_MALLOC_ATOMIC(n) : GC_MALLOC(n);
#endif
    if (HAMT_UNLIKELY(p == NULL)) {
        errno = ENOMEM;
    }
    return p;
}

void *
hamt__alloc(size_t n)
{
    return gc_alloc(n, false);
}

void *
hamt__alloc_atomic(size_t n)
{
    return gc_alloc(n, true);
}

size_t
hamt__alloc_usable(const void *p)
{
#ifdef HAMT_NO_GC
    return malloc_usable_size((void *)(uintptr_t)p);
#else
    /* GC_size includes the extra byte the collector adds to each request
     * (interior pointers are recognised): leave it alone.  0 for anything
     * that is not a collector object (never asked for here). */
    size_t n = GC_size(p);

    return n != 0 ? n - 1 : 0;
#endif
}

size_t
hamt__alloc_block_size(const void *p)
{
#ifdef HAMT_NO_GC
    return malloc_usable_size((void *)(uintptr_t)p);
#else
    return GC_size(p);
#endif
}

void
hamt__free(void *p)
{
#ifdef HAMT_NO_GC
    /* Only objects nothing else can reach come here (batch nodes replaced
     * inside their batch, cell records never published): freeing them
     * lets ASan catch a use after free. */
    free(p);
#else
    GC_FREE(p);
#endif
}
