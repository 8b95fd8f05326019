// Convert get_user_pages*() + put_page() to pin_user_pages*() + unpin_user_page*(), the way a
// kernel developer would write it as a purely syntactic Coccinelle rule: the same scope as
// gup2pin, but with no notion of where a page came from. It is the spatch side of the benchmark
// in test/bench/run.ts (issue 5); it was written for it, not taken from the kernel's
// scripts/coccinelle.
//
// Target: Linux 6.1. There pin_user_pages*() take exactly the arguments of get_user_pages*()
// (get_user_pages_remote() lost its task argument in 5.9; the vmas arguments only go in 6.5),
// so the acquire rule is a rename (get_user_pages_locked() no longer exists in 6.1).
//
// The release rules apply only to files where the acquire rule converted a call, and there to
// every put_page(): a put_page() loop over pages from alloc_page(), a page-cache lookup or
// iov_iter_get_pages() in the same file is converted too. Those are the false positives of a
// syntactic rule, which test/bench/run.ts counts against gup2pin's refusals. (Without that
// dependency the rules would rewrite every put_page() of the tree; with it, spatch's own token
// prefilter parses only the files that name a get_user_pages*() function.)
//
// Rules, applied in order:
//   gup        get_user_pages*()                       -> pin_user_pages*()
//   loop       for (...) put_page(pages[i]);           -> unpin_user_pages(pages, n);
//   dirty      set_page_dirty_lock(p); put_page(p);    -> unpin_user_pages_dirty_lock(&p, 1, true);
//   single     put_page(p);                            -> unpin_user_page(p);
//
// spatch --sp-file test/bench/gup2pin.cocci -D patch --very-quiet --no-includes --include-headers --dir . -j 2
//
// Options: --no-includes --include-headers

virtual patch

@gup depends on patch@
expression list args;
@@
(
- get_user_pages
+ pin_user_pages
  (args)
|
- get_user_pages_fast
+ pin_user_pages_fast
  (args)
|
- get_user_pages_fast_only
+ pin_user_pages_fast_only
  (args)
|
- get_user_pages_remote
+ pin_user_pages_remote
  (args)
|
- get_user_pages_unlocked
+ pin_user_pages_unlocked
  (args)
)

@loop depends on patch && gup@
expression pages, n;
identifier i;
@@
(
- for (i = 0; i < n; i++)
-	put_page(pages[i]);
+ unpin_user_pages(pages, n);
|
- for (i = 0; i < n; i++) {
-	put_page(pages[i]);
- }
+ unpin_user_pages(pages, n);
)

@dirty depends on patch && gup@
expression p;
@@
- set_page_dirty_lock(p);
- put_page(p);
+ unpin_user_pages_dirty_lock(&p, 1, true);

@single depends on patch && gup@
expression p;
@@
- put_page(p)
+ unpin_user_page(p)
