/** The prefilter's header rule: a header is parsed only when an inline function calls the API. */
import { describe, expect, it } from 'vitest';
import { callsInBody } from '../src/discover/walk.ts';

describe('callsInBody', () => {
  it('skips a header that only declares the API', () => {
    expect(callsInBody('long get_user_pages(unsigned long start, unsigned long nr_pages,\n\t\t    unsigned int gup_flags, struct page **pages);\n')).toBe(false);
  });

  it('keeps a header whose inline function calls it', () => {
    const header = 'static inline bool get_page_fast_only(unsigned long addr, struct page **pagep)\n{\n\treturn get_user_pages_fast_only(addr, 1, 0, pagep) == 1;\n}\n';
    expect(callsInBody(header)).toBe(true);
  });

  it('does not count calls or braces in comments, strings and character constants', () => {
    const header = [
      '/* { pin_user_pages(x) } */',
      'static inline char brace(void)',
      '{',
      '\t// pin_user_pages(y)',
      '\treturn "}{ get_user_pages(z)"[0] + \'}\';',
      '}',
      'int pin_user_pages(int n);',
      '',
    ].join('\n');
    expect(callsInBody(header)).toBe(false);
  });

  it('needs the whole name: a longer identifier ending in it is not a call of it', () => {
    expect(callsInBody('static inline int f(void)\n{\n\treturn my_pin_user_pages(1);\n}\n')).toBe(false);
  });
});
