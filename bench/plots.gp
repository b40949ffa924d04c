# plots.gp - the bench's pictures, drawn from the CSV files hamt-bench
# writes.  Run it in the directory that holds them (make bench and
# make bench-full do):   cd bench/out && gnuplot /path/to/bench/plots.gp
#
#   ns_per_op.png        single_<op>.csv: ns/op against N, one line per map
#   read_throughput.png  concurrent.csv: reader lookups/s under one writer,
#                        and two readers without one
#   breakpoint.png       breakpoint.csv: ns per update, copy-on-write
#                        against path copying, and the breakpoint
#   gc_pauses.png        gc_pauses.csv: histogram of libhamt's pauses
#   budget_curve.png     budget.csv: one writer against the factor of the
#                        budget between collections (updates/s, stopped
#                        time per update, longest pause, heap, collections)
#
# plot_info.csv gives the titles their run: the stamp (date, machine, mode),
# the runs per figure, the concurrent N, the breakpoint N (0: none) and the
# floor of the budget curve's factor rows in MiB.

set datafile separator ','
info(name) = system(sprintf("awk -F, '$1 == \"%s\" { sub(/^[^,]*,/, \"\"); print }' plot_info.csv", name))
stamp = info('stamp')
runs = info('runs')
conc_n = info('conc_n')
bp = int(info('breakpoint'))
# The data rows of a file with at least one figure (not its comment and
# header lines, nor rows of NaN only): a run of some sections only
# (--sections) writes the other sections' files with none, and a picture
# of them would fail; it is then not drawn, and an older one of the same
# name is removed so that no picture outlives its run.
rows(f) = int(system(sprintf("cat %s 2>/dev/null | awk -F, '!/^#/ && h++ { for (i = 2; i <= NF; i++) if ($i != \"NaN\" && $i != \"nan\" && $i != \"\") { n++; next } } END { print n + 0 }'", f)))
skip(png) = system(sprintf("rm -f %s; echo 'plots.gp: no data for %s (section not run)' >&2", png, png))
budget_floor = info('budget_floor_mib')

set terminal pngcairo size 1280,960 noenhanced font ',10'
set key autotitle columnhead
set grid
set linetype 1 lc rgb '#d62728' lw 3 pt 7
set linetype 2 lc rgb '#1f77b4' lw 2 pt 5
set linetype 3 lc rgb '#17becf' lw 2 pt 4
set linetype 4 lc rgb '#9467bd' lw 2 pt 6
set linetype 5 lc rgb '#8c564b' lw 2 pt 8
set linetype 6 lc rgb '#7f7f7f' lw 2 pt 10
set linetype 7 lc rgb '#ff7f0e' lw 2 pt 12
set linetype 8 lc rgb '#2ca02c' lw 2 pt 14
set linetype 9 lc rgb '#000000' lw 2 pt 2
set linetype 10 lc rgb '#bcbd22' lw 2 pt 3

# ---- single thread: one panel per operation (lookup miss left out) ----
if (rows('single_insert.csv') == 0) {
    dummy = skip('ns_per_op.png')
} else {
set output 'ns_per_op.png'
set multiplot layout 2,2 \
    title sprintf("ns/op vs N, u64 keys, one thread (median of %s)\n%s", runs, stamp)
set logscale xy
set xlabel 'N entries'
set ylabel 'ns/op'
set key left top
set title 'insert'
plot for [c=2:*] 'single_insert.csv' using 1:c with linespoints lw 2
set title 'lookup hit'
plot for [c=2:*] 'single_lookup_hit.csv' using 1:c with linespoints lw 2
set title 'remove'
plot for [c=2:*] 'single_remove.csv' using 1:c with linespoints lw 2
set title 'iterate (per entry)'
plot for [c=2:*] 'single_iterate.csv' using 1:c with linespoints lw 2
unset multiplot
unset logscale
}

# ---- concurrent: reader throughput per map ----
if (rows('concurrent.csv') == 0) {
    dummy = skip('read_throughput.png')
} else {
set output 'read_throughput.png'
set title sprintf("reader lookups/s under one writer, N = %s u64 keys (median of %s)\n%s", conc_n, runs, stamp)
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set ylabel 'M lookups/s (all readers)'
set xlabel ''
set xtics rotate by -30
set key right top
plot for [c=2:*] 'concurrent.csv' using c:xtic(1)
unset logscale
set xtics norotate
set style data lines
}

# ---- copy-on-write against path copying ----
if (rows('breakpoint.csv') == 0) {
    dummy = skip('breakpoint.png')
} else {
set output 'breakpoint.png'
set title "ns per update (replace one value, publish): copy-on-write vs path copying\n".stamp
set logscale xy
set xlabel 'N entries'
set ylabel 'ns/update'
set key left top
if (bp > 0) {
    set arrow 1 from bp, graph 0 to bp, graph 1 nohead dt 2
    set label 1 sprintf('path copying wins from N = %d', bp) at bp, graph 0.9 offset 1,0
}
plot 'breakpoint.csv' using 1:2 with linespoints lw 2, '' using 1:3 with linespoints lw 2
unset arrow
unset label
unset logscale
}

# ---- collector pauses: a histogram of 40 bins up to the longest ----
# (of the concurrent section's runs: none drawn when it did not run)
if (rows('concurrent.csv') == 0) {
    dummy = skip('gc_pauses.png')
} else {
npauses = int(system("awk '!/^#/ { n++ } END { print (n > 0 ? n - 1 : 0) }' gc_pauses.csv"))
set output 'gc_pauses.png'
set title sprintf("libhamt stop-the-world pauses, N = %s, 1 writer + readers (%d pauses)\n%s", conc_n, npauses, stamp)
set style fill solid 0.8 border -1
set xlabel 'pause (ms)'
set ylabel 'collections'
set key off
if (npauses > 0) {
    stats 'gc_pauses.csv' using 1 nooutput
    bw = STATS_max > 0 ? STATS_max / 40.0 : 1.0
} else {
    bw = 1.0
}
bin(x) = bw * floor(x / bw) + bw / 2
set boxwidth bw * 0.9
if (npauses > 0) {
    plot 'gc_pauses.csv' using (bin($1)):(1.0) smooth frequency with boxes
} else {
    set label 2 'no collections' at graph 0.5, graph 0.5 center
    plot [0:1] [0:1] NaN notitle
}
}

# ---- the writer against the budget between collections (budget.csv) ----
if (rows('budget.csv') == 0) {
    dummy = skip('budget_curve.png')
} else {
    set output 'budget_curve.png'
    set multiplot layout 2,2 \
        title sprintf("one writer against the budget factor: F x the heap in use after each collection, at least %s MiB, divisor 1 (0 = divisor 1 alone)\n%s", budget_floor, stamp)
    unset logscale
    unset label
    # An empty field is a figure not measured (no collection in the
    # phases): gnuplot skips it.  Every panel spans every factor, so that
    # a panel whose last points are missing still shows where they belong.
    stats 'budget.csv' using 1 nooutput
    set xrange [STATS_min:STATS_max]
    set style data linespoints
    set key top left
    set xlabel 'factor (hamt_gc_set_budget_factor)'
    set title 'writer updates/s (M)'
    set ylabel 'M updates/s'
    plot 'budget.csv' using 1:2 lw 2, '' using 1:7 lw 2
    set title 'stopped time per update'
    set ylabel 'ns'
    plot 'budget.csv' using 1:4 lw 2, '' using 1:9 lw 2
    set title 'longest pause'
    set ylabel 'ms'
    plot 'budget.csv' using 1:5 lw 2, '' using 1:10 lw 2
    set title 'heap (left), and collections per million updates (right)'
    set ylabel 'MiB'
    set y2label 'collections per 1M updates'
    set y2range [0:*]
    set y2tics
    set ytics nomirror
    plot 'budget.csv' using 1:6 lw 2, '' using 1:11 lw 2, \
         '' using 1:3 axes x1y2 lw 2, '' using 1:8 axes x1y2 lw 2
    unset y2tics
    unset y2label
    set autoscale y2
    set ytics mirror
    unset multiplot
    set autoscale x
}
