import { readFileSync } from 'node:fs';
import { parseC } from './src/parse/kernel-c.ts';
import { FileFacts } from './src/sites/dataflow.ts';
const [f, key] = process.argv.slice(2);
const text = readFileSync(f, 'utf8');
const facts = new FileFacts(parseC(text).rootNode) as any;
const prov = facts.provenance();
const rev = new Map<string, string[]>();
for (const [from, tos] of facts.edges) for (const to of tos) (rev.get(to) ?? rev.set(to, []).get(to)!).push(from);
const seen = new Set<string>();
const show = (k: string, d: number) => {
  if (seen.has(k) || d > 6) return; seen.add(k);
  console.log('  '.repeat(d) + k, [...(facts.seeds.get(k) ?? [])].join(','), '=>', [...(prov.get(k) ?? [])].filter((t: string) => !t.startsWith('cnt')).join(','));
  for (const s of rev.get(k) ?? []) show(s, d + 1);
};
show(key, 0);
