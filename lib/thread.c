/*
 * thread.c - making threads known to the collector.
 *
 * Why: the Boehm collector finds live objects by scanning the stacks and
 * registers of the threads it knows.  A thread it does not know is not
 * scanned, so a map version referenced only from such a thread's stack can
 * be reclaimed and its memory reused while the thread still reads it
 * (TOOLCHAIN.md shows this happening).  Every thread that holds a map
 * pointer must therefore be registered.
 *
 * How: per thread, one byte of thread-local state says what this library
 * knows about the calling thread:
 *
 *     state              meaning                           at thread exit
 *     ----------------   -------------------------------   ---------------
 *     THREAD_UNKNOWN     not checked yet                   nothing
 *     THREAD_FOREIGN     registered already, by the        nothing (its
 *                        collector itself (the main          owner
 *                        thread, GC_pthread_create) or       unregisters)
 *                        by the application
 *     THREAD_OURS        registered here with              the key destructor
 *                        GC_register_my_thread()             unregisters it
 *
 * hamt__thread_ensure() is what the cell calls on every entry: once the
 * state is known it costs one thread-local load and a predicted branch.
 * The state is initial-exec TLS, so reaching it is a fixed offset from the
 * thread pointer rather than a call to __tls_get_addr (the library is linked
 * at start-up in every supported use; glibc reserves static TLS space for a
 * few bytes of dlopen'ed initial-exec data as well).
 *
 * A thread registered here gets a non-NULL value under a pthread key whose
 * destructor calls GC_unregister_my_thread() when the thread exits: the
 * collector aborts the process if a registered thread exits without
 * unregistering.
 *
 * Invariants:
 *   - The state byte is only ever read and written by its own thread; it is
 *     not shared memory, so it needs no atomic access.
 *   - THREAD_OURS <=> this library's GC_register_my_thread() returned
 *     GC_SUCCESS and GC_unregister_my_thread() has not been called since,
 *     <=> the key holds a non-NULL value for this thread.
 *   - The state byte is never the only reference to anything (it holds no
 *     pointer); thread-local storage is not a collector root.
 *
 * What remains the caller's job: hamt_init() (or any map constructor) must
 * run on the main thread first, because the collector must be initialised
 * there; a thread the application registered itself must stay registered
 * while it uses the library; and a thread that blocks the collector's
 * signals must not hold maps.
 *
 * Without the collector (HAMT_NO_GC, sanitizer builds) nothing is ever
 * freed, so every function here is a no-op that succeeds.
 */
#include "internal.h"

#ifndef HAMT_NO_GC

#include <pthread.h>

#define GC_THREADS
#define GC_NO_THREAD_REDIRECTS
#include <gc/gc.h>

enum thread_state {
    THREAD_UNKNOWN = 0,
    THREAD_FOREIGN = 1,
    THREAD_OURS = 2
};

#if defined(__GNUC__)
#define THREAD_TLS_MODEL __attribute__((tls_model("initial-exec")))
#else
#define THREAD_TLS_MODEL
#endif

/* Private to its thread: see the invariants above. */
static _Thread_local unsigned char thread_state THREAD_TLS_MODEL;

static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t thread_key;
static int thread_key_error;

/*
 * Runs at the exit of a thread that this library registered (the key's
 * value is non-NULL only for those).  The thread is still registered, so
 * unregistering here is what the collector requires.
 */
static void
thread_key_destroy(void *value)
{
    (void)value;
    GC_unregister_my_thread();
}

/* Creates the key once per process; records the error for later callers. */
static void
thread_key_create(void)
{
    thread_key_error = pthread_key_create(&thread_key, thread_key_destroy);
}

/*
 * The slow path of hamt__thread_ensure(): runs once per thread (and again
 * after hamt_thread_unregister()).  Returns 0 or -1 with errno.
 */
static int
thread_register_slow(void)
{
    struct GC_stack_base sb;
    int rc;

    if (hamt_init() != 0) {
        return -1;
    }
    if (GC_thread_is_registered()) {
        thread_state = THREAD_FOREIGN;
        return 0;
    }
    if (pthread_once(&thread_key_once, thread_key_create) != 0
        || thread_key_error != 0) {
        errno = ENOMEM;
        return -1;
    }
    if (GC_get_stack_base(&sb) != GC_SUCCESS) {
        errno = ENOMEM;
        return -1;
    }
    rc = GC_register_my_thread(&sb);
    if (rc == GC_DUPLICATE) {
        /* Registered between the check above and here: not by us. */
        thread_state = THREAD_FOREIGN;
        return 0;
    }
    if (rc != GC_SUCCESS) {
        errno = ENOMEM;
        return -1;
    }
    if (pthread_setspecific(thread_key, (void *)&thread_key) != 0) {
        /* Without the destructor the thread would abort at exit. */
        GC_unregister_my_thread();
        errno = ENOMEM;
        return -1;
    }
    thread_state = THREAD_OURS;
    return 0;
}

int
hamt__thread_ensure(void)
{
    if (HAMT_LIKELY(thread_state != THREAD_UNKNOWN)) {
        return 0;
    }
    return thread_register_slow();
}

int
hamt_thread_register(void)
{
    return hamt__thread_ensure();
}

void
hamt_thread_unregister(void)
{
    if (thread_state != THREAD_OURS) {
        /* Not registered by this library: its owner decides. */
        return;
    }
    /*
     * Clear the key first, so the destructor cannot unregister a second
     * time when the thread exits.
     */
    (void)pthread_setspecific(thread_key, NULL);
    GC_unregister_my_thread();
    thread_state = THREAD_UNKNOWN;
}

#else /* HAMT_NO_GC: nothing is ever freed, so no thread needs scanning. */

int
hamt__thread_ensure(void)
{
    return 0;
}

int
hamt_thread_register(void)
{
    return 0;
}

void
hamt_thread_unregister(void)
{
}

#endif /* HAMT_NO_GC */
