/**
 * What a run has decided about opaque integers: each comparison of one opaque value with a
 * number the oracle answered narrows the values it can have, so a later comparison those answers
 * already settle gets the settled answer (`0 < n` true and `1 < n` false make `1 <= n` true)
 * rather than a default that would contradict them.
 */
import { Sym, show, symOf, type Val } from './memory.ts';

export type Relation = '<' | '<=' | '>' | '>=' | '==' | '!=';

/** `subject op k`: the opaque value keyed `subject` compared with the integer `k`. */
export interface Comparison {
  subject: string;
  op: Relation;
  k: number;
}

const RELATIONS = new Set<string>(['<', '<=', '>', '>=', '==', '!=']);

export const isRelation = (op: string): op is Relation => RELATIONS.has(op);

/** `k op x` is `x MIRROR[op] k`. */
const MIRROR: Record<Relation, Relation> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=', '==': '==', '!=': '!=' };

/** `!(x op k)` is `x NEGATION[op] k`. */
const NEGATION: Record<Relation, Relation> = { '<': '>=', '<=': '>', '>': '<=', '>=': '<', '==': '!=', '!=': '==' };

/** `l op r` as a comparison of one opaque value with an integer, if that is what it is. */
function comparisonOf(op: Relation, l: Val, r: Val): Comparison | undefined {
  if (l instanceof Sym && typeof r === 'number' && Number.isInteger(r)) return { subject: l.key, op, k: r };
  if (r instanceof Sym && typeof l === 'number' && Number.isInteger(l)) return { subject: r.key, op: MIRROR[op], k: l };
  return undefined;
}

/**
 * The opaque value `(l op r)`, knowing what it compares if it compares an opaque value with a
 * number. Two opaque values are equal or not once per run: `(a!=b)` is the negation of `(a==b)`,
 * and `(b==a)` is `(a==b)`, so no run answers `a == b` and `a != b` both false.
 */
export function compared(op: Relation, l: Val, r: Val): Sym {
  if ((op === '==' || op === '!=') && typeof l !== 'number' && typeof r !== 'number') {
    const [x, y] = before(show(l), show(r)) ? [l, r] : [r, l];
    const eq = symOf(`(${show(x)}==${show(y)})`, x, y);
    if (op === '==') return eq;
    const v = symOf(`(${show(l)}!=${show(r)})`, l, r);
    v.negates = eq;
    return v;
  }
  const v = symOf(`(${show(l)}${op}${show(r)})`, l, r);
  v.test = comparisonOf(op, l, r);
  return v;
}

/** The order of the two sides of an equality: a named constant (`id:X`) last, else by text. */
function before(a: string, b: string): boolean {
  const ca = a.startsWith('id:');
  return ca === b.startsWith('id:') ? a <= b : !ca;
}

/** The values one opaque integer can still have: lo ≤ x ≤ hi, x not in `out`. */
interface Range {
  lo: number;
  hi: number;
  out?: Set<number>;
}

export class Facts {
  private readonly ranges = new Map<string, Range>();

  /** A copy, for a run that starts from what another run decided. */
  clone(): Facts {
    const f = new Facts();
    for (const [k, r] of this.ranges) f.ranges.set(k, { lo: r.lo, hi: r.hi, out: r.out && new Set(r.out) });
    return f;
  }

  /** The answer to `c` the facts force, if they force one. */
  implied({ subject, op, k }: Comparison): boolean | undefined {
    const r = this.ranges.get(subject);
    if (!r) return undefined;
    switch (op) {
      case '<': return r.hi < k ? true : r.lo >= k ? false : undefined;
      case '<=': return r.hi <= k ? true : r.lo > k ? false : undefined;
      case '>': return r.lo > k ? true : r.hi <= k ? false : undefined;
      case '>=': return r.lo >= k ? true : r.hi < k ? false : undefined;
      case '==': return equals(r, k);
      case '!=': {
        const eq = equals(r, k);
        return eq === undefined ? undefined : !eq;
      }
    }
  }

  /** Record that `c` was answered `truth`. */
  learn(c: Comparison, truth: boolean) {
    const op = truth ? c.op : NEGATION[c.op];
    const k = c.k;
    let r = this.ranges.get(c.subject);
    if (!r) this.ranges.set(c.subject, (r = { lo: -Infinity, hi: Infinity }));
    if (op === '<') r.hi = Math.min(r.hi, k - 1);
    else if (op === '<=') r.hi = Math.min(r.hi, k);
    else if (op === '>') r.lo = Math.max(r.lo, k + 1);
    else if (op === '>=') r.lo = Math.max(r.lo, k);
    else if (op === '==') {
      r.lo = Math.max(r.lo, k);
      r.hi = Math.min(r.hi, k);
    } else (r.out ??= new Set()).add(k);
    // An excluded end is no longer a value the range can have.
    if (r.out) {
      while (r.out.has(r.lo)) r.lo++;
      while (r.out.has(r.hi)) r.hi--;
    }
  }

  /** The values `key` can still have, if the answers bound them from above. */
  boundedAbove(key: string): { lo: number; hi: number } | undefined {
    const r = this.ranges.get(key);
    return r && r.hi < Infinity ? { lo: r.lo, hi: r.hi } : undefined;
  }
}

function equals(r: Range, k: number): boolean | undefined {
  if (k < r.lo || k > r.hi || r.out?.has(k)) return false;
  return r.lo === k && r.hi === k ? true : undefined;
}
