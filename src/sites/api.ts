/**
 * The mm API vocabulary: acquire variants with their argument layouts, release calls, page
 * sources that are not GUP, and calls that merely carry a page through (domain reference §1, §6).
 */

export type AcquireFamily = 'gup' | 'pin';

/** Argument layout of one acquire call as written. */
export interface AcquireLayout {
  /** Base variant without get_/pin_ prefix: 'user_pages', 'user_pages_fast', … */
  variant: string;
  family: AcquireFamily;
  task?: number;
  mm?: number;
  start: number;
  count: number;
  /** gup_flags; in the fast variants possibly a pre-5.2 `int write` (told apart by the acquire transform). */
  flags?: number;
  /** Index of an old `int write` argument (and `force`), when the call predates gup_flags. */
  write?: number;
  force?: number;
  pages: number;
  vmas?: number;
  locked?: number;
  /** get_user_pages_longterm(): FOLL_LONGTERM is implied by the name. */
  impliedLongterm?: boolean;
}

const TASK_RE = /(^|->|\.)(current|tsk|task|p|t)$|task$/;

/**
 * Layout of an acquire call, or undefined if the name/arity is not one we know. Only the
 * arguments' texts matter, so the simulator can ask with its lowered call.
 */
export function acquireLayout(name: string, args: ReadonlyArray<{ readonly text: string }>): AcquireLayout | undefined {
  const n = args.length;
  const family: AcquireFamily = name.startsWith('pin_') ? 'pin' : 'gup';
  const base = name.replace(/^(__get_|get_|pin_)/, '');
  const looksLikeTask = (i: number) => TASK_RE.test(args[i]?.text.trim() ?? '');
  switch (name) {
    case 'get_user_pages':
    case 'pin_user_pages':
      if (n === 8) return { variant: base, family, task: 0, mm: 1, start: 2, count: 3, write: 4, force: 5, pages: 6, vmas: 7 };
      if (n === 6) return { variant: base, family, start: 0, count: 1, write: 2, force: 3, pages: 4, vmas: 5 };
      if (n === 5) return { variant: base, family, start: 0, count: 1, flags: 2, pages: 3, vmas: 4 };
      if (n === 4) return { variant: base, family, start: 0, count: 1, flags: 2, pages: 3 };
      return undefined;
    case 'get_user_pages_longterm':
      if (n === 5) return { variant: 'user_pages', family, start: 0, count: 1, flags: 2, pages: 3, vmas: 4, impliedLongterm: true };
      return undefined;
    case 'get_user_pages_fast':
    case 'pin_user_pages_fast':
    case 'get_user_pages_fast_only':
    case 'pin_user_pages_fast_only':
      if (n === 4) return { variant: base, family, start: 0, count: 1, flags: 2, pages: 3 };
      return undefined;
    case '__get_user_pages_fast':
      // Never sleeps, never negative: pin_user_pages_fast_only() is its pinning twin.
      if (n === 4) return { variant: 'user_pages_fast_only', family, start: 0, count: 1, flags: 2, pages: 3 };
      return undefined;
    case 'get_user_pages_remote':
    case 'pin_user_pages_remote':
      if (n === 8) return { variant: base, family, task: 0, mm: 1, start: 2, count: 3, flags: 4, pages: 5, vmas: 6, locked: 7 };
      if (n === 7 && looksLikeTask(0))
        return { variant: base, family, task: 0, mm: 1, start: 2, count: 3, flags: 4, pages: 5, vmas: 6 };
      if (n === 7) return { variant: base, family, mm: 0, start: 1, count: 2, flags: 3, pages: 4, vmas: 5, locked: 6 };
      if (n === 6) return { variant: base, family, mm: 0, start: 1, count: 2, flags: 3, pages: 4, locked: 5 };
      return undefined;
    case 'get_user_pages_unlocked':
    case 'pin_user_pages_unlocked':
      // Pages come before gup_flags in this variant only.
      if (n === 4) return { variant: base, family, start: 0, count: 1, pages: 2, flags: 3 };
      return undefined;
    case 'get_user_pages_locked':
    case 'pin_user_pages_locked':
      if (n === 5) return { variant: base, family, start: 0, count: 1, flags: 2, pages: 3, locked: 4 };
      return undefined;
    default:
      return undefined;
  }
}

/** A call of an acquire or interim release name: what makes a file worth parsing. */
export const CANDIDATE_RE = /\b(?:__get_user_pages_fast|get_user_pages\w*|pin_user_pages\w*|put_user_pages?\w*)\s*\(/;

/**
 * A call of a FOLL_GET acquire: a file that has none has nothing to convert (its pin groups are
 * pinned already, and a release alone is never converted).
 */
export const GET_ACQUIRE_RE = /\b(?:__get_user_pages_fast|get_user_pages\w*)\s*\(/;

export const ACQUIRE_NAMES = new Set([
  'get_user_pages', 'get_user_pages_fast', 'get_user_pages_fast_only', '__get_user_pages_fast',
  'get_user_pages_remote', 'get_user_pages_unlocked', 'get_user_pages_locked',
  'get_user_pages_longterm', 'pin_user_pages', 'pin_user_pages_fast', 'pin_user_pages_fast_only',
  'pin_user_pages_remote', 'pin_user_pages_unlocked', 'pin_user_pages_locked',
]);

/** Release calls: index of the page (or page array) argument, count and make_dirty indexes. */
export interface ReleaseApi {
  page?: number;
  array?: number;
  count?: number;
  dirty?: number;
  /** The argument is not the page but this call of it: `page_address(p)`, `page_folio(p)`. */
  of?: 'page_address' | 'page_folio';
  /** Index of an allocation order argument: only order 0 is one page's reference. */
  order?: number;
  family: 'get' | 'interim' | 'pin';
}

/**
 * Every way a page reference from get_user_pages*() can be dropped: a group converts all of
 * them or none (a `__free_page()` left on a pinned page leaks the pin).
 */
export const RELEASE_APIS: Record<string, ReleaseApi> = {
  put_page: { page: 0, family: 'get' },
  // put_page()'s name before 4.6.
  page_cache_release: { page: 0, family: 'get' },
  __free_page: { page: 0, family: 'get' },
  __free_pages: { page: 0, order: 1, family: 'get' },
  free_page: { page: 0, of: 'page_address', family: 'get' },
  folio_put: { page: 0, of: 'page_folio', family: 'get' },
  release_pages: { array: 0, count: 1, family: 'get' },
  put_user_page: { page: 0, family: 'interim' },
  put_user_pages: { array: 0, count: 1, family: 'interim' },
  put_user_pages_dirty: { array: 0, count: 1, family: 'interim' },
  put_user_pages_dirty_lock: { array: 0, count: 1, dirty: 2, family: 'interim' },
  unpin_user_page: { page: 0, family: 'pin' },
  unpin_user_pages: { array: 0, count: 1, family: 'pin' },
  unpin_user_pages_dirty_lock: { array: 0, count: 1, dirty: 2, family: 'pin' },
  unpin_user_page_range_dirty_lock: { page: 0, count: 1, dirty: 2, family: 'pin' },
};

/** Dirtying calls that pair with a following put_page() on the same page. */
export const DIRTY_CALLS: Record<string, 'lock' | 'nolock' | 'flag'> = {
  set_page_dirty_lock: 'lock',
  set_page_dirty: 'nolock',
  SetPageDirty: 'flag',
};

/**
 * Page references that are not GUP: returned by the call, or written into the argument at the
 * given index. Releasing these with unpin_*() underflows (hazard H1).
 */
export const RVALUE_SOURCES = new Set([
  'alloc_page', 'alloc_pages', 'alloc_pages_node', '__alloc_pages', 'alloc_pages_exact',
  'dev_alloc_page', 'dev_alloc_pages', '__dev_alloc_page', 'page_pool_alloc_pages',
  'page_pool_dev_alloc_pages', 'virt_to_page', 'vmalloc_to_page', 'kmap_to_page', 'find_get_page',
  'find_lock_page', 'find_or_create_page', 'grab_cache_page', 'grab_cache_page_write_begin',
  'read_mapping_page', 'read_cache_page', 'read_cache_page_gfp', 'shmem_read_mapping_page',
  'shmem_read_mapping_page_gfp', 'pagecache_get_page', 'follow_page', 'get_dump_page',
  'drm_gem_get_pages', 'balloon_page_alloc', 'alloc_page_vma', 'new_page',
  'page_pool_alloc_frag', 'dma_alloc_pages', 'cma_alloc',
]);

export const OUTPARAM_SOURCES: Record<string, number> = {
  iov_iter_get_pages: 1,
  iov_iter_get_pages2: 1,
  iov_iter_get_pages_alloc: 1,
  iov_iter_get_pages_alloc2: 1,
  iov_iter_extract_pages: 1,
  get_kernel_pages: 3,
  get_kernel_page: 2,
  find_get_pages: 3,
  find_get_pages_contig: 3,
  find_get_pages_range: 3,
  find_get_pages_range_tag: 4,
  alloc_pages_bulk_array: 2,
};

/** Calls whose result is the same page (or pfn) as their first argument. */
/**
 * A page and its kernel address are the same reference (kvmppc_pin_guest_page() hands out
 * `page_address(page) + offset`, kvmppc_unpin_guest_page() puts `virt_to_page(va)`): the address
 * carries the page's provenance, and an address of unknown storage is a source of its own.
 */
export const ADDRESS_OF_PAGE = new Set(['page_address', 'kmap', 'kmap_local_page']);
export const PAGE_OF_ADDRESS = new Set(['virt_to_page', 'kmap_to_page']);

export const PASS_THROUGH = new Set([
  'sg_page', 'sg_page_iter_page', 'page_to_pfn', 'pfn_to_page', 'nth_page', 'READ_ONCE',
  'page_folio', 'folio_page', 'compound_head', 'phys_to_page', 'pfn_to_online_page',
]);

/** Allocators of the page-pointer arrays themselves: the memory holds no page reference yet. */
export const ARRAY_ALLOCATORS = new Set([
  'kmalloc', 'kzalloc', 'kcalloc', 'kmalloc_array', 'kvmalloc', 'kvzalloc', 'kvcalloc',
  'kvmalloc_array', 'vmalloc', 'vzalloc', 'vcalloc', 'vmalloc_array', '__get_free_page',
  '__get_free_pages', 'get_zeroed_page', 'devm_kcalloc', 'devm_kzalloc', 'devm_kmalloc_array',
  'kmalloc_node', 'kzalloc_node', 'kcalloc_node', 'kvzalloc_node', 'kvmalloc_node', 'krealloc',
  'kvrealloc', 'krealloc_array', 'kmem_cache_alloc', 'kmem_cache_zalloc', '__vmalloc', 'vmalloc_node',
  'vzalloc_node', '__kmalloc', 'kmalloc_array_node',
]);

/**
 * Does this allocation come zeroed (kzalloc, kcalloc, kvcalloc, vzalloc, get_zeroed_page, …, or
 * any allocator given __GFP_ZERO)? A slot of such an array nothing stored into reads as NULL.
 * (A krealloc() keeps the old contents, whatever its flags.)
 */
export const zeroingAllocation = (name: string, argTexts: readonly string[]) =>
  ARRAY_ALLOCATORS.has(name) && !/realloc/.test(name) && (/z|calloc/.test(name) || argTexts.some((t) => /\b__GFP_ZERO\b/.test(t)));

/** Value combinators whose result derives from all arguments (counts, bounds). */
export const COMBINATORS = new Set(['min', 'max', 'min_t', 'max_t', 'clamp', 'clamp_t', 'DIV_ROUND_UP', 'ALIGN', 'PAGE_ALIGN', 'round_up', 'round_down']);

/** Scatterlist/table builders that copy page pointers from one argument into another. */
export const PAGE_COPIES: Record<string, [to: number, from: number]> = {
  sg_set_page: [0, 1],
  sg_assign_page: [0, 1],
  sg_alloc_table_from_pages: [0, 1],
  __sg_alloc_table_from_pages: [0, 1],
  sg_alloc_table_from_pages_segment: [0, 1],
  sg_alloc_append_table_from_pages: [0, 1],
  memcpy: [0, 1],
};

/** Iterator macros: [index of the collection, index of the cursor] — cursor aliases collection. */
export const ITERATOR_ALIASES: Record<string, [collection: number, cursor: number]> = {
  for_each_sg: [0, 1],
  for_each_sg_page: [0, 1],
  for_each_sg_dma_page: [0, 1],
  for_each_sgtable_sg: [0, 1],
  for_each_sgtable_page: [0, 1],
  for_each_sgtable_dma_sg: [0, 1],
  for_each_sgtable_dma_page: [0, 1],
};

/**
 * Callees known to take over a page reference: the receiver puts it later (skb frags, bios,
 * page cache). Handing GUP pages to one of these moves the release out of reach (H2/H3).
 * Other external callees (device programming, vmap, copies) only borrow the pages.
 */
export const OWNERSHIP_TAKING = new Set([
  'skb_fill_page_desc', '__skb_fill_page_desc', 'skb_add_rx_frag', 'skb_frag_set_page',
  '__skb_frag_set_page', 'bio_add_page', '__bio_add_page', 'bio_add_pc_page', 'bio_add_hw_page',
  'add_to_page_cache_lru', 'add_to_page_cache_locked', 'filemap_add_folio', 'splice_to_pipe',
  'add_to_pipe', 'iov_iter_bvec', 'bvec_set_page', 'sock_sendpage', 'kernel_sendpage',
]);

/**
 * Calls that free memory that may hold page pointers (the array, an sg table), not the pages'
 * references: handing them the array is no escape.
 */
export const ARRAY_FREES = new Set([
  'kfree', 'kvfree', 'vfree', 'kfree_sensitive', 'devm_kfree', 'free_page', 'free_pages',
  'sg_free_table', 'sg_free_append_table', 'kmem_cache_free',
]);

/** A function defined elsewhere whose name says it may drop a reference it is handed. */
export const MAY_RELEASE_RE = /(^|_)(put|free|release|unpin|unref|drop)(_|$)/;

/** Names the conversion emits; a file-local definition of one would capture our calls (H14). */
export const EMITTED_NAMES: ReadonlySet<string> = new Set([
  'pin_user_pages', 'pin_user_pages_fast', 'pin_user_pages_remote', 'pin_user_pages_unlocked',
  'pin_user_pages_locked', 'pin_user_pages_fast_only', 'unpin_user_page', 'unpin_user_pages',
  'unpin_user_pages_dirty_lock', 'put_user_page', 'put_user_pages', 'put_user_pages_dirty_lock',
]);

/** Calls that enter atomic context (H8), and the ones that leave it. */
export const ATOMIC_ENTER_RE = /^(spin_lock|spin_lock_irq|spin_lock_irqsave|spin_lock_bh|raw_spin_lock\w*|read_lock\w*|write_lock\w*|local_irq_disable|local_irq_save|preempt_disable|rcu_read_lock|spin_trylock\w*)$/;
export const ATOMIC_LEAVE_RE = /^(spin_unlock|spin_unlock_irq|spin_unlock_irqrestore|spin_unlock_bh|raw_spin_unlock\w*|read_unlock\w*|write_unlock\w*|local_irq_enable|local_irq_restore|preempt_enable|rcu_read_unlock)$/;

/**
 * Text markers of MMU-notifier users (pin_user_pages.rst case 3: they must stay on FOLL_GET): a
 * file that registers a notifier or faults through HMM. A file that only hands some objects to
 * such code (umem.c calling ib_umem_odp_get() for on-demand-paging regions) is not one: its own
 * GUP pages are not notifier-managed.
 */
export const MMU_NOTIFIER_RE = /\b(mmu_notifier_ops|mmu_interval_notifier_ops|mmu_interval_notifier_insert\w*|mmu_notifier_register|hmm_range_fault)\b/;
