## man/local.mk - the man pages, their link pages, and their checks.
## Included from the top Makefile.am; paths are relative to the top.
##
## Pages are mdoc(7), one per function group plus the hamt(3) overview.
## Every name in a page's NAME section (.Nm) that is not the page's own name
## gets a link page in man3dir at install time (hamt_remove.3 holds
## ".so man3/hamt_set.3"), so `man hamt_remove` works; uninstall removes them.
##
## `make check` runs three scripts (TESTS).  Each prints PASS/FAIL lines
## and ends with "check-NAME: N passed, N failed" for test/summary.sh:
##   man/check-lint.sh      mandoc -Tlint -Wwarning on every page, the
##                          required sections, every man/*.3 listed below,
##                          no link name that clobbers another page
##   man/check-symbols.sh   every function exported by lib/.libs/libhamt.so
##                          has a page (.Nm) and a comment in include/hamt.h;
##                          every HAMT_API declaration and .Nm name is exported
##   man/check-examples.sh  runs every man/examples/*.c (built below) and
##                          checks that each appears verbatim in a page

dist_man3_MANS = \
	man/hamt.3 \
	man/hamt_init.3 \
	man/hamt_new.3 \
	man/hamt_get.3 \
	man/hamt_set.3 \
	man/hamt_iter.3 \
	man/hamt_equal.3 \
	man/hamt_cell.3 \
	man/hamt_thread.3 \
	man/hamt_ops.3 \
	man/hamt_batch.3 \
	man/hamt_combine.3

EXTRA_DIST += man/names.sh man/check-lint.sh man/check-symbols.sh \
	man/check-examples.sh

## ---- link pages ----

## The pages live in the source tree; a VPATH build finds them in $(srcdir).
man_pages_src = for p in $(dist_man3_MANS); do \
	  if test -f "$$p"; then echo "$$p"; else echo "$(srcdir)/$$p"; fi; \
	done

install-data-hook: man-install-links
uninstall-hook: man-uninstall-links

man-install-links:
	@$(NORMAL_INSTALL)
	@$(SHELL) $(srcdir)/man/names.sh `$(man_pages_src)` | \
	while read page name; do \
	  if test "$$name" != "$$page"; then \
	    echo " link $(DESTDIR)$(man3dir)/$$name.3 -> $$page.3"; \
	    echo ".so man3/$$page.3" >"$(DESTDIR)$(man3dir)/$$name.3" || exit 1; \
	  fi; \
	done

man-uninstall-links:
	@$(NORMAL_UNINSTALL)
	@$(SHELL) $(srcdir)/man/names.sh `$(man_pages_src)` | \
	while read page name; do \
	  if test "$$name" != "$$page"; then \
	    echo " rm -f $(DESTDIR)$(man3dir)/$$name.3"; \
	    rm -f "$(DESTDIR)$(man3dir)/$$name.3"; \
	  fi; \
	done

.PHONY: man-install-links man-uninstall-links

## ---- example programs ----

## Compiled as a user would compile them (only include/ on the include path,
## no HAMT_BUILDING) and linked against libhamt.la, so they see exactly the
## exported API.  A new man/examples/NAME.c needs its four lines here;
## man/examples.test fails until it has them.
man_examples_cppflags = -I$(top_srcdir)/include
man_examples_ldadd = lib/libhamt.la $(GC_LIBS) -lpthread
man_examples_ldflags = -no-install $(AM_LDFLAGS)

check_PROGRAMS += man/examples/hamt_cell_acquire
man_examples_hamt_cell_acquire_CPPFLAGS = $(man_examples_cppflags)
man_examples_hamt_cell_acquire_LDADD = $(man_examples_ldadd)
man_examples_hamt_cell_acquire_LDFLAGS = $(man_examples_ldflags)

check_PROGRAMS += man/examples/readers_writer
man_examples_readers_writer_CPPFLAGS = $(man_examples_cppflags)
man_examples_readers_writer_LDADD = $(man_examples_ldadd)
man_examples_readers_writer_LDFLAGS = $(man_examples_ldflags)

check_PROGRAMS += man/examples/hamt_init
man_examples_hamt_init_CPPFLAGS = $(man_examples_cppflags)
man_examples_hamt_init_LDADD = $(man_examples_ldadd)
man_examples_hamt_init_LDFLAGS = $(man_examples_ldflags)

check_PROGRAMS += man/examples/hamt_new
man_examples_hamt_new_CPPFLAGS = $(man_examples_cppflags)
man_examples_hamt_new_LDADD = $(man_examples_ldadd)
man_examples_hamt_new_LDFLAGS = $(man_examples_ldflags)

check_PROGRAMS += man/examples/hamt_get
man_examples_hamt_get_CPPFLAGS = $(man_examples_cppflags)
man_examples_hamt_get_LDADD = $(man_examples_ldadd)
man_examples_hamt_get_LDFLAGS = $(man_examples_ldflags)

check_PROGRAMS += man/examples/hamt_set
man_examples_hamt_set_CPPFLAGS = $(man_examples_cppflags)
man_examples_hamt_set_LDADD = $(man_examples_ldadd)
man_examples_hamt_set_LDFLAGS = $(man_examples_ldflags)

check_PROGRAMS += man/examples/hamt_iter
man_examples_hamt_iter_CPPFLAGS = $(man_examples_cppflags)
man_examples_hamt_iter_LDADD = $(man_examples_ldadd)
man_examples_hamt_iter_LDFLAGS = $(man_examples_ldflags)

check_PROGRAMS += man/examples/hamt_equal
man_examples_hamt_equal_CPPFLAGS = $(man_examples_cppflags)
man_examples_hamt_equal_LDADD = $(man_examples_ldadd)
man_examples_hamt_equal_LDFLAGS = $(man_examples_ldflags)

check_PROGRAMS += man/examples/hamt_cell
man_examples_hamt_cell_CPPFLAGS = $(man_examples_cppflags)
man_examples_hamt_cell_LDADD = $(man_examples_ldadd)
man_examples_hamt_cell_LDFLAGS = $(man_examples_ldflags)

check_PROGRAMS += man/examples/hamt_thread
man_examples_hamt_thread_CPPFLAGS = $(man_examples_cppflags)
man_examples_hamt_thread_LDADD = $(man_examples_ldadd)
man_examples_hamt_thread_LDFLAGS = $(man_examples_ldflags)

check_PROGRAMS += man/examples/hamt_ops
man_examples_hamt_ops_CPPFLAGS = $(man_examples_cppflags)
man_examples_hamt_ops_LDADD = $(man_examples_ldadd)
man_examples_hamt_ops_LDFLAGS = $(man_examples_ldflags)

check_PROGRAMS += man/examples/hamt_batch
man_examples_hamt_batch_CPPFLAGS = $(man_examples_cppflags)
man_examples_hamt_batch_LDADD = $(man_examples_ldadd)
man_examples_hamt_batch_LDFLAGS = $(man_examples_ldflags)

check_PROGRAMS += man/examples/hamt_combine
man_examples_hamt_combine_CPPFLAGS = $(man_examples_cppflags)
man_examples_hamt_combine_LDADD = $(man_examples_ldadd)
man_examples_hamt_combine_LDFLAGS = $(man_examples_ldflags)

## ---- the checks ----

## The scripts read their settings from man/check.env, written here, so they
## need nothing from the test driver (they run through test/run-test.sh,
## which runs *.sh with $(SHELL)); each also has defaults for running by
## hand from the top build directory.
TESTS += man/check-lint.sh man/check-symbols.sh man/check-examples.sh
check_SCRIPTS += man/check.env
CLEANFILES += man/check.env
man/check.env: Makefile
	$(AM_V_GEN)$(MKDIR_P) man && { \
	  echo "MANDOC='$(MANDOC)'"; \
	  echo "NM='$(NM)'"; \
	  echo "MANPAGES='$(dist_man3_MANS)'"; \
	} >$@
