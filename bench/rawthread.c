/*
 * rawthread.c - threads the collector never hears of, for the bench's
 * libhamt-slot readers.
 *
 * bench.h defines GC_THREADS before <gc/gc.h>, which turns every
 * pthread_create and pthread_join of the bench into GC_pthread_create and
 * GC_pthread_join: every thread they start is registered with the
 * collector.  This file does not include bench.h or <gc/gc.h>, so the
 * calls below are the C library's own, and a reader started here is
 * neither registered, stopped nor scanned by the collector.
 */
#include <pthread.h>

int bench_raw_thread_create(pthread_t *t, void *(*fn)(void *), void *arg);
int bench_raw_thread_join(pthread_t t);

int
bench_raw_thread_create(pthread_t *t, void *(*fn)(void *), void *arg)
{
    return pthread_create(t, NULL, fn, arg);
}

int
bench_raw_thread_join(pthread_t t)
{
    return pthread_join(t, NULL);
}
