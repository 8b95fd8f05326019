/**
 * The benchmark's pure parts (test/bench/): its report (the ratios against ripgrep, the targets
 * of issue 18, the tools it skipped), the README table it replaces, and the warm/cold diff check.
 * The benchmark itself takes minutes on a whole tree: `npm run bench`, not here.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Summary } from './bench/measure.ts';
import { replaceBenchTable, updateReadme } from './bench/readme.ts';
import { markdown, sectionText, type Machine, type SectionResult, type ToolResult } from './bench/report.ts';
import { firstDifference } from './bench/same-diff.ts';
import { targetsFor } from './bench/targets.ts';
import { scratchDir } from './helpers.ts';

const MACHINE: Machine = {
  date: '2026-12-07 09:00Z',
  cores: 2,
  cpuModel: 'AMD EPYC',
  ramGb: 23.5,
  loadAverage: 0.25,
  node: 'v20.20.2',
  kernelTree: '/work/corpus/linux-source-6.1 (Linux 6.1.192)',
  gup2pin: '0.1.0 (commit abc1234)',
  toolVersions: ['ripgrep 13.0.0', 'grep (GNU grep) 3.8', 'spatch version 1.1.1'],
};

/** Seconds and megabytes, as the table shows them. */
function summary(medianWall: number, minWall: number, maxWall: number, medianCpu: number, peakRssMb: number): Summary {
  return { medianWall, minWall, maxWall, medianCpu, peakRssKb: peakRssMb * 1024 };
}

const tool = (name: string, commandLine: string, s: Summary, files: number, filesVerb: 'changed' | 'listed'): ToolResult => ({
  tool: name,
  commandLine,
  summary: s,
  files,
  filesVerb,
});

const COLD = tool('gup2pin cold', 'bin/gup2pin diff --timings --no-cache --jobs 2 .', summary(2.08, 1.9, 2.2, 3.5, 380), 7, 'changed');
const WARM = tool('gup2pin warm', 'bin/gup2pin diff --timings --jobs 2 .', summary(0.6, 0.55, 0.7, 0.9, 250), 7, 'changed');
const RIPGREP = tool('ripgrep', "rg -l -g '*.c' -e get_user_pages -e pin_user_pages .", summary(0.32, 0.3, 0.35, 0.4, 7), 110, 'listed');
const GIT_GREP = tool('git grep', "git grep -l -e get_user_pages -e pin_user_pages -- '*.c'", summary(0.64, 0.6, 0.7, 0.8, 6), 110, 'listed');
const GREP = tool('grep', "grep -rl -e get_user_pages -e pin_user_pages --include='*.c' .", summary(1.1, 1.0, 1.2, 1.0, 3), 110, 'listed');
const SPATCH = tool('spatch', 'spatch --sp-file test/bench/gup2pin.cocci -D patch --dir . -j 2', summary(56, 55, 58, 100, 107), 3, 'changed');

/** A section as run.ts makes it: its targets from targetsFor. */
function section(subdir: string, tools: ToolResult[], skipped: SectionResult['skipped']): SectionResult {
  return {
    subdir,
    reps: 3,
    jobs: 2,
    tools,
    skipped,
    stages: { ms: [['walk', 263], ['read', 1600], ['parse', 1700], ['verify', 1100]], inProcessWall: 1.83, threads: 2 },
    targets: targetsFor(subdir, tools),
    comparison: {
      spatchFiles: 3,
      both: 1,
      gup2pinOnly: [],
      spatchOnly: ['arch/x/a.c', 'mm/b.c'],
      refusals: [{ code: 'core-kernel', sites: 2, files: new Set(['arch/x/a.c', 'mm/b.c']), example: 'mm/b.c:10: core kernel users were left on FOLL_GET' }],
    },
  };
}

const WHOLE_TREE_TARBALL = section('.', [COLD, WARM, RIPGREP, GREP, SPATCH], [{ tool: 'git grep', reason: 'not a git checkout' }]);

describe('bench report', () => {
  it('judges the whole tree against ripgrep, says git grep was skipped, and gives the other ratios for information', () => {
    expect(sectionText(WHOLE_TREE_TARBALL)).toBe(
      [
        'whole tree: median of 3 runs, --jobs 2',
        '  $ bin/gup2pin diff --timings --no-cache --jobs 2 .',
        '  $ bin/gup2pin diff --timings --jobs 2 .',
        "  $ rg -l -g '*.c' -e get_user_pages -e pin_user_pages .",
        "  $ grep -rl -e get_user_pages -e pin_user_pages --include='*.c' .",
        '  $ spatch --sp-file test/bench/gup2pin.cocci -D patch --dir . -j 2',
        '  git grep: not a git checkout: skipped',
        '  tool          median wall     min     max  CPU (user+sys)  peak RSS       files',
        '  gup2pin cold       2.08 s  1.90 s  2.20 s          3.50 s    380 MB   7 changed',
        '  gup2pin warm       0.60 s  0.55 s  0.70 s          0.90 s    250 MB   7 changed',
        '  ripgrep            0.32 s  0.30 s  0.35 s          0.40 s      7 MB  110 listed',
        '  grep               1.10 s  1.00 s  1.20 s          1.00 s      3 MB  110 listed',
        '  spatch             56.0 s  55.0 s  58.0 s         100.0 s    107 MB   3 changed',
        '  gup2pin cold / ripgrep (median wall): 6.5× (target ≤ 5.0×): missed by 1.3×',
        '  gup2pin warm / ripgrep (median wall): 1.9× (target ≤ 2.0×): met',
        '  gup2pin peak RSS (cold and warm): 380 MB (target ≤ 400 MB): met',
        '  spatch / gup2pin cold (median wall): 27×',
        '  gup2pin cold / grep (median wall): 1.9×',
        '  gup2pin cold stages (ms, summed over 2 threads, medians): walk 263, read 1600, parse 1700, verify 1100; 1.83 s wall in-process, 0.25 s start-up and exit',
        '  spatch changed 3 files, gup2pin 1 of them; why gup2pin leaves the other 2, by code (sites in files):',
        '    core-kernel: 2 in 2 — e.g. mm/b.c:10: core kernel users were left on FOLL_GET',
      ].join('\n'),
    );
  });

  it('renders the same section as Markdown, the skipped tool before the table', () => {
    expect(markdown(MACHINE, [WHOLE_TREE_TARBALL])).toBe(
      [
        'date: 2026-12-07 09:00Z  ',
        'machine: 2 cores (AMD EPYC), 23.5 GB RAM, node v20.20.2, load average 0.25 at the start  ',
        'tools: gup2pin 0.1.0 (commit abc1234); ripgrep 13.0.0; grep (GNU grep) 3.8; spatch version 1.1.1  ',
        'tree: /work/corpus/linux-source-6.1 (Linux 6.1.192), warm page cache  ',
        '',
        '**whole tree: median of 3 runs, --jobs 2**',
        '',
        '```',
        '$ bin/gup2pin diff --timings --no-cache --jobs 2 .',
        '$ bin/gup2pin diff --timings --jobs 2 .',
        "$ rg -l -g '*.c' -e get_user_pages -e pin_user_pages .",
        "$ grep -rl -e get_user_pages -e pin_user_pages --include='*.c' .",
        '$ spatch --sp-file test/bench/gup2pin.cocci -D patch --dir . -j 2',
        '```',
        '',
        'git grep: not a git checkout: skipped',
        '',
        '| tool | median wall | min | max | CPU (user+sys) | peak RSS | files |',
        '|---|---:|---:|---:|---:|---:|---:|',
        '| gup2pin cold | 2.08 s | 1.90 s | 2.20 s | 3.50 s | 380 MB | 7 changed |',
        '| gup2pin warm | 0.60 s | 0.55 s | 0.70 s | 0.90 s | 250 MB | 7 changed |',
        '| ripgrep | 0.32 s | 0.30 s | 0.35 s | 0.40 s | 7 MB | 110 listed |',
        '| grep | 1.10 s | 1.00 s | 1.20 s | 1.00 s | 3 MB | 110 listed |',
        '| spatch | 56.0 s | 55.0 s | 58.0 s | 100.0 s | 107 MB | 3 changed |',
        '',
        '- gup2pin cold / ripgrep (median wall): 6.5× (target ≤ 5.0×): missed by 1.3×',
        '- gup2pin warm / ripgrep (median wall): 1.9× (target ≤ 2.0×): met',
        '- gup2pin peak RSS (cold and warm): 380 MB (target ≤ 400 MB): met',
        '- spatch / gup2pin cold (median wall): 27×',
        '- gup2pin cold / grep (median wall): 1.9×',
        '- gup2pin cold stages (ms, summed over 2 threads, medians): walk 263, read 1600, parse 1700, verify 1100; 1.83 s wall in-process, 0.25 s start-up and exit',
        '',
        'spatch changed 3 files, gup2pin 1 of them; why gup2pin leaves the other 2, by code (sites in files).',
        '',
        '| code | sites | files | example |',
        '|---|---:|---:|---|',
        '| `core-kernel` | 2 | 2 | mm/b.c:10: core kernel users were left on FOLL_GET |',
        '',
      ].join('\n'),
    );
  });

  it('shows a subdirectory without targets: every ratio, git grep included when measured, for information', () => {
    const lines = sectionText(section('drivers/infiniband', [COLD, WARM, RIPGREP, GIT_GREP, GREP, SPATCH], [])).split('\n');
    expect(lines[0]).toBe('drivers/infiniband: median of 3 runs, --jobs 2');
    expect(lines.filter((l) => l.includes(' / '))).toEqual([
      '  gup2pin cold / ripgrep (median wall): 6.5×',
      '  gup2pin warm / ripgrep (median wall): 1.9×',
      '  spatch / gup2pin cold (median wall): 27×',
      '  gup2pin cold / grep (median wall): 1.9×',
      '  gup2pin cold / git grep (median wall): 3.3×',
    ]);
    expect(lines.filter((l) => l.includes('target') || l.includes('skipped'))).toEqual([]);
  });

  it('judges only the memory when ripgrep was not measured, and names each tool skipped', () => {
    const skipped = [
      { tool: 'ripgrep', reason: 'not installed (apt-get install ripgrep failed)' },
      { tool: 'git grep', reason: 'not a git checkout' },
      { tool: 'spatch', reason: 'not installed (apt-get install coccinelle failed)' },
    ];
    const s = { ...section('.', [COLD, WARM, GREP], skipped), comparison: undefined };
    expect(sectionText(s).split('\n').slice(4)).toEqual([
      '  ripgrep: not installed (apt-get install ripgrep failed): skipped',
      '  git grep: not a git checkout: skipped',
      '  spatch: not installed (apt-get install coccinelle failed): skipped',
      '  tool          median wall     min     max  CPU (user+sys)  peak RSS       files',
      '  gup2pin cold       2.08 s  1.90 s  2.20 s          3.50 s    380 MB   7 changed',
      '  gup2pin warm       0.60 s  0.55 s  0.70 s          0.90 s    250 MB   7 changed',
      '  grep               1.10 s  1.00 s  1.20 s          1.00 s      3 MB  110 listed',
      '  gup2pin peak RSS (cold and warm): 380 MB (target ≤ 400 MB): met',
      '  gup2pin cold / grep (median wall): 1.9×',
      '  gup2pin cold stages (ms, summed over 2 threads, medians): walk 263, read 1600, parse 1700, verify 1100; 1.83 s wall in-process, 0.25 s start-up and exit',
    ]);
  });

  it('takes the larger peak RSS of the cold and warm runs, and misses the target above 400 MB', () => {
    const warmHeavier = { ...WARM, summary: { ...WARM.summary, peakRssKb: 450 * 1024 } };
    const lines = sectionText(section('.', [COLD, warmHeavier, RIPGREP, GREP, SPATCH], []));
    expect(lines.split('\n').filter((l) => l.includes('peak RSS ('))).toEqual(['  gup2pin peak RSS (cold and warm): 450 MB (target ≤ 400 MB): missed by 1.1×']);
    const nearMiss = { ...COLD, summary: { ...COLD.summary, peakRssKb: 420 * 1024 } };
    const near = sectionText(section('.', [nearMiss, WARM, RIPGREP, GREP, SPATCH], []));
    expect(near.split('\n').filter((l) => l.includes('peak RSS ('))).toEqual(['  gup2pin peak RSS (cold and warm): 420 MB (target ≤ 400 MB): missed by 1.05×']);
  });

  it("says which gup2pin runs changed gup2pin's cache, in both renderings", () => {
    const s = section('.', [COLD, { ...WARM, disturbedRuns: 1 }, RIPGREP, GREP, SPATCH], []);
    const note =
      "gup2pin warm: 1 of 3 runs changed gup2pin's cache in each of 3 tries (rebuilt a bundle or wrote results, e.g. after another checkout sharing node_modules ran another build): its time includes that work";
    expect(sectionText(s).split('\n')[6]).toBe(`  ${note}`);
    expect(markdown(MACHINE, [s]).split('\n').slice(13, 17)).toEqual(['```', '', note, '']);
  });
});

describe('bench README table', () => {
  // The prose names the markers: only lines of their own are markers.
  const README = ['# gup2pin', '', '## Benchmark', '', 'Between `<!-- bench:begin -->` and `<!-- bench:end -->`:', '', '<!-- bench:begin -->', 'old table', '', 'old list', '<!-- bench:end -->', '', 'After.', ''].join('\n');

  it('replaces what lies between the marker lines, and nothing else', () => {
    expect(replaceBenchTable(README, 'new table\n', 'README.md')).toBe(
      ['# gup2pin', '', '## Benchmark', '', 'Between `<!-- bench:begin -->` and `<!-- bench:end -->`:', '', '<!-- bench:begin -->', 'new table', '<!-- bench:end -->', '', 'After.', ''].join('\n'),
    );
    // Regenerating with the same table changes nothing; a table without its last newline gets one.
    const once = replaceBenchTable(README, 'new table\n', 'README.md');
    expect(replaceBenchTable(once, 'new table', 'README.md')).toBe(once);
  });

  it('refuses a README without markers, with one marker, or with them out of order', () => {
    expect(() => replaceBenchTable('# gup2pin\n', 't\n', 'README.md')).toThrow(
      'README.md has no <!-- bench:begin --> and <!-- bench:end --> lines: put them around the benchmark table it should replace',
    );
    expect(() => replaceBenchTable('<!-- bench:begin -->\nt\n', 't\n', 'README.md')).toThrow('README.md needs one <!-- bench:begin --> line and one <!-- bench:end --> line (it has 1 and 0)');
    expect(() => replaceBenchTable(`${README}${README}`, 't\n', 'README.md')).toThrow('README.md needs one <!-- bench:begin --> line and one <!-- bench:end --> line (it has 2 and 2)');
    expect(() => replaceBenchTable('<!-- bench:end -->\n<!-- bench:begin -->\n', 't\n', 'README.md')).toThrow('README.md has its <!-- bench:end --> line before its <!-- bench:begin --> line');
  });

  it('rewrites the file whole and leaves no temp file; a file without markers is left as it was', () => {
    const dir = scratchDir();
    const readme = join(dir, 'README.md');
    writeFileSync(readme, README);
    updateReadme(readme, 'new table\n');
    expect(readFileSync(readme, 'utf8')).toBe(replaceBenchTable(README, 'new table\n', readme));
    expect(readdirSync(dir)).toEqual(['README.md']);

    const unmarked = join(dir, 'UNMARKED.md');
    writeFileSync(unmarked, '# no markers\n');
    expect(() => updateReadme(unmarked, 'new table\n')).toThrow(`${unmarked} has no <!-- bench:begin --> and <!-- bench:end --> lines`);
    expect(readFileSync(unmarked, 'utf8')).toBe('# no markers\n');
    expect(existsSync(`${unmarked}.${process.pid}.tmp`)).toBe(false);
  });
});

describe('bench warm/cold diff check', () => {
  it('accepts the same diff and names the first line where two differ', () => {
    const cold = '--- a/x.c\n+++ b/x.c\n-get_user_pages(\n+pin_user_pages(\n';
    expect(firstDifference(cold, cold)).toBeUndefined();
    expect(firstDifference('', '')).toBeUndefined();
    expect(firstDifference(cold, cold.replace('+pin', '+get'))).toBe('line 4: cold has "+pin_user_pages(", warm has "+get_user_pages("');
    expect(firstDifference(cold, '')).toBe('line 1: cold has "--- a/x.c", warm has ""');
    expect(firstDifference(cold, cold.slice(0, -1))).toBe('line 5: cold has "", warm has end of output');
  });
});
