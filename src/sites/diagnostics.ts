/**
 * Stable diagnostic codes. Tests and users key on the code; the message gives the specifics.
 * Every refusal names the hazard from the domain reference it protects against.
 */
export const DIAGNOSTIC_CODES = {
  'not-gup': 'pages released here do not come from get_user_pages*() (H1)',
  'mixed-provenance': 'the same release sees GUP pages and pages from another source (H4)',
  'no-release': 'no release of the pinned pages in this file (ownership leaves the file, H3)',
  'escape': 'pinned pages are handed to a function outside this file that may release them (H3)',
  'extra-ref': 'an extra get_page() reference is taken on GUP pages (H2)',
  'null-skip': 'the release loop skips NULL slots of an array not provably zeroed: past the pinned count they may hold anything (H5)',
  'bound': 'the release loop bound is not the pinned count (H5)',
  'atomic-context': 'the replacement would take the page lock in atomic context (H8)',
  'mmu-notifier': 'an MMU notifier manages the pages (or they cannot be told from such pages): they keep get_user_pages() (pin_user_pages.rst case 3, H9)',
  'struct-page-only': 'the pages are only used for struct page metadata: FOLL_GET is right (pin_user_pages.rst case 4, H9)',
  'name-clash': 'a file-local symbol has the name of the API we would emit, and cannot be renamed (H14)',
  'release-kind': 'a GUP page is dropped by a call no unpin can stand for (a higher-order free, a folio or address kept aside)',
  'unsupported-release': 'a release of these pages has a shape gup2pin cannot rewrite',
  'unsupported-acquire': 'an acquire call gup2pin cannot rewrite',
  'target-api': 'the conversion cannot be expressed on the target kernel (H12)',
  'vmas': 'the vmas argument is used but no longer exists on the target (6.5+)',
  'parse-error': 'tree-sitter could not parse the code around the site',
  'pin-put-mismatch': 'pinned pages are released with put_page(): the pin leaks (§2.5)',
  'core-kernel': 'core kernel code (mm/, kernel/, fs/, lib/) converts only on request (H9)',
  'mixed-family': 'pages from get_user_pages*() and pin_user_pages*() meet in one release',
  'not-equivalent': 'the page/DMA simulator finds the conversion changes behaviour',
  'unverified': 'the simulator cannot model this site, and only proven conversions are wanted (series)',
  'outside-paths': 'the group also needs an edit in a file outside the given paths',
  'not-linked': 'the group shares its pages with other files that could not be analysed with it',
  // A finding on a converted group, not a refusal: the conversion neither adds nor removes it.
  'uncounted-pin': 'a loop leaves after a pin succeeded and before counting it: that page is never released (pre-existing leak, reported)',
  'sleep-in-atomic': 'the original already sleeps in atomic context where the pages are released (H8)',
} as const;

export type DiagnosticCode = keyof typeof DIAGNOSTIC_CODES;

export interface Diagnostic {
  code: DiagnosticCode;
  line: number;
  message: string;
  /** The file the line is in, when it is not the file reported on (a group linked across files). */
  file?: string;
}
