/*
 * adapters.c - the competitors of the bench: the table of every adapter
 * built in (bench/adapt_*.c, one struct bench_adapter each), the ones
 * configure did not find, and the choice of --only.
 *
 * The order of bench_adapters[] is the order of every table and CSV
 * column.  A new competitor is one adapt_*.c file, one extern in bench.h
 * and one line here (inside the HAVE_* test of its library, with its
 * names in skipped[] for builds without it).
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>

const struct bench_adapter *const bench_adapters[] = {
    &bench_hamt,
    &bench_hamt_scalar,
    &bench_hamt_b16,
    &bench_hamt_slot,
    &bench_hamt_slot_many,
    &bench_hamt_combine,
#ifdef HAVE_GLIB
    &bench_glib,
    &bench_glib_mutex,
    &bench_glib_rwlock,
    &bench_glib_shards,
    &bench_owner,
#endif
    &bench_cow,
    &bench_syncmap,
#ifdef HAVE_URCU
    &bench_urcu,
#endif
#ifdef HAVE_CK
    &bench_ck,
#endif
    NULL,
};

/* Competitors configure did not find: reported in every section. */
static const char *const skipped[] = {
#ifndef HAVE_GLIB
    "ghash, ghash-mutex, ghash-rwlock, ghash-shards, owner-thread (GLib)",
#endif
#ifndef HAVE_URCU
    "urcu-lfht (liburcu)",
#endif
#ifndef HAVE_CK
    "ck-hs (Concurrency Kit)",
#endif
    NULL,
};

bool
bench_selected(const struct bench_adapter *a)
{
    /* A name counts only as a whole item of the comma-separated list. */
    const char *only = bench_cfg.only;
    if (only == NULL) {
        return true;
    }
    size_t len = strlen(a->name);
    for (const char *p = only; (p = strstr(p, a->name)) != NULL; p++) {
        if ((p == only || p[-1] == ',') && (p[len] == '\0' || p[len] == ',')) {
            return true;
        }
    }
    return false;
}

bool
bench_selected_single(const struct bench_adapter *a)
{
    return bench_selected(a) && !(a->flags & BA_CONC_ONLY);
}

bool
bench_takes_kind(const struct bench_adapter *a, enum bkind kind)
{
    return kind == BK_U64 || !(a->flags & BA_U64_ONLY);
}

bool
bench_selected_single_kind(const struct bench_adapter *a, enum bkind kind)
{
    return bench_selected_single(a) && bench_takes_kind(a, kind);
}

bool
bench_selected_conc(const struct bench_adapter *a)
{
    return bench_selected(a) && !(a->flags & BA_SINGLE_ONLY);
}

const struct bench_adapter *
bench_adapter_named(const char *name)
{
    for (unsigned i = 0; bench_adapters[i]; i++) {
        if (strcmp(bench_adapters[i]->name, name) == 0
            && bench_selected(bench_adapters[i])) {
            return bench_adapters[i];
        }
    }
    return NULL;
}

void
bench_print_skipped(FILE *f, const char *prefix)
{
    for (unsigned i = 0; skipped[i]; i++) {
        fprintf(f, "%sskipped: %s not found\n", prefix, skipped[i]);
    }
}

const char *
bench_kind_name(enum bkind k)
{
    return k == BK_U64 ? "u64" : "str16";
}
