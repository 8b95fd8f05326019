/** Command-line front end: argument parsing and output only; the work is in run()/plan. */
import { resolve } from 'node:path';
import yargs from 'yargs';
import { ChangedOnDisk, writeAtomic } from './emit/apply.ts';
import { unifiedDiff } from './emit/diff.ts';
import { reportJson, reportLines, summarize, summaryLine } from './emit/report.ts';
import { run, type RunResult } from './run.ts';
import { TargetError, resolveTarget, versionLabel, type TargetApi } from './target.ts';

interface Common {
  paths: string[];
  target?: string;
  root: string;
  quiet: boolean;
  core: boolean;
}

function execute(argv: Common): { result: RunResult; api: TargetApi; errors: number } {
  const api = resolveTarget(argv.target, argv.paths);
  const result = run(argv.paths, api, resolve(argv.root), { core: argv.core });
  for (const p of result.problems) process.stderr.write(`gup2pin: ${p.path}: ${p.reason}\n`);
  return { result, api, errors: result.problems.length };
}

function diffCommand(argv: Common): number {
  const { result, errors } = execute(argv);
  let changed = false;
  for (const f of result.files) {
    const d = unifiedDiff(f.display, f.original, f.plan.output);
    if (d) {
      process.stdout.write(d);
      changed = true;
    }
  }
  if (!argv.quiet) process.stderr.write(`${summaryLine(summarize(result))}\n`);
  return errors ? 2 : changed ? 1 : 0;
}

function applyCommand(argv: Common): number {
  const run = execute(argv);
  const { result } = run;
  let { errors } = run;
  let written = 0;
  for (const f of result.files) {
    if (f.plan.output === f.original) continue;
    try {
      writeAtomic(f.path, f.original, f.plan.output);
      written++;
      if (!argv.quiet) process.stdout.write(`converted ${f.display}\n`);
    } catch (e) {
      errors++;
      const why = e instanceof ChangedOnDisk ? e.message : (e as Error).message;
      process.stderr.write(`gup2pin: ${f.display}: not written: ${why}\n`);
    }
  }
  if (!argv.quiet) process.stderr.write(`${summaryLine(summarize(result))}, ${written} written\n`);
  return errors ? 2 : 0;
}

function scanCommand(argv: Common & { json: boolean }): number {
  const { result, api, errors } = execute(argv);
  if (argv.json) {
    process.stdout.write(`${JSON.stringify(reportJson(result, api), null, 2)}\n`);
  } else {
    for (const f of result.files) for (const line of reportLines(f)) process.stdout.write(`${line}\n`);
    process.stdout.write(`${summaryLine(summarize(result))} (target ${versionLabel(api.version)})\n`);
  }
  return errors ? 2 : 0;
}

export async function main(args: string[]): Promise<number> {
  let code = 0;
  const common = (y: ReturnType<typeof yargs>) =>
    y
      .positional('paths', { type: 'string', array: true, demandOption: true, describe: 'files or directories (a kernel tree, a driver directory)' })
      .option('target', { type: 'string', describe: 'kernel version the output must compile on (X.Y, or auto: the tree\'s Makefile, else 6.5)', default: 'auto' })
      .option('root', { type: 'string', describe: 'paths in diffs and reports are relative to this directory', default: '.' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no summary on stderr' })
      .option('core', { type: 'boolean', default: false, describe: 'also convert core kernel users (mm/, kernel/, fs/, ipc/, security/), left on FOLL_GET upstream' });
  const parser = yargs(args)
    .scriptName('gup2pin')
    .usage('$0 <command> PATH…\n\nConvert get_user_pages()/put_page() call sites to pin_user_pages()/unpin_user_page*().')
    .command('diff <paths..>', 'print a unified diff of every conversion (exit 1 if any)', common, (a) => {
      code = diffCommand(a as unknown as Common);
    })
    .command('apply <paths..>', 'convert in place (atomic per file, idempotent)', common, (a) => {
      code = applyCommand(a as unknown as Common);
    })
    .command('scan <paths..>', 'report each pin group: file:line: verdict code: reason', (y) => common(y).option('json', { type: 'boolean', default: false, describe: 'full structure as JSON' }), (a) => {
      code = scanCommand(a as unknown as Common & { json: boolean });
    })
    .demandCommand(1, 'name a command: diff, apply or scan')
    .strict()
    .help()
    .version(false)
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    });
  try {
    await parser.parseAsync();
  } catch (e) {
    if (e instanceof TargetError || e instanceof UsageError) {
      process.stderr.write(`gup2pin: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  return code;
}

class UsageError extends Error {}
