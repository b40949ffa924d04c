/*
 * sections.c - the sections of the bench, in the order they run.  A new
 * section is one new file defining its run (and report) functions,
 * declared in bench.h, and one row here; child.c runs whatever this table
 * lists, and --sections NAME picks rows by name.
 *
 * The order matters twice: memory runs before single, whose child prints
 * the memory figures beside its own (preload); and the reports run in
 * this order after every section has run, before the headline.
 */
#include "bench.h"

#include <stddef.h>

static const char *const budget_outputs[] = {"budget.csv", NULL};
static const char *const writers_outputs[] = {
    "writers.csv", "writers.gp", "writers_*.dat", "writers_*.png", NULL};
static const char *const collide_outputs[] = {"collide.csv", NULL};

const struct bench_section bench_sections[] = {
    {.name = "memory", .cases = memory_cases, .run = memory_run},
    {.name = "breakpoint", .run = breakpoint_run, .report = breakpoint_report},
    {.name = "concurrent",
     .run = concurrent_run,
     .report = concurrent_write_data},
    {.name = "edits",
     .cases = edits_cases,
     .run = edits_run,
     .report = edits_report},
    {.name = "budget",
     .cases = budget_cases,
     .run = budget_run,
     .report = budget_report,
     .outputs = budget_outputs},
    {.name = "single",
     .run = single_run_all,
     .report = single_write_data,
     .preload = true},
    {.name = "writers", .run = writers_run, .outputs = writers_outputs},
    {.name = "balance",
     .run = balance_run,
     .report = balance_write_data,
     .in_parent = true},
    {.name = "collide",
     .cases = collide_cases,
     .run = collide_run,
     .report = collide_report,
     .outputs = collide_outputs},
    {.name = NULL},
};
