/**
 * `apply`'s write guarantees: per file atomic (old bytes or new, never a mix, whatever kills the
 * process when), mode and owner kept, no write over a file that changed on disk (byte for byte),
 * no temp file left behind on a failure or a SIGINT/SIGTERM — and the temp file a SIGKILL can
 * leave is never a name the walk would take for a source. LF files and CRLF ones alike (a vendor
 * tree committed from Windows).
 */
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, cpSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempPath, writeAtomic, WriteRefused } from '../src/emit/apply.ts';
import { isCFile, walk } from '../src/discover/walk.ts';
import { BIN, fixtureNames, gup2pin, read, scratchDir } from './helpers.ts';
const isRoot = process.getuid?.() === 0;

/** Names a temp file of ours can have (tempPath). */
const TEMP_RE = /^\..+\.gup2pin-\d+-[0-9a-f]{12}\.tmp$/;

const crlf = (text: string) => text.replaceAll('\n', '\r\n');
/** The two line endings the tests run with: `eol` writes a test's LF text with them. */
const ENDINGS = [
  { name: 'LF', eol: (text: string) => text },
  { name: 'CRLF', eol: crlf },
];

/** One file `name` holding `text` in a fresh directory; its path. */
function oneFile(text: string | Buffer, name = 'qib.c'): string {
  const file = join(scratchDir(), name);
  writeFileSync(file, text);
  return file;
}

describe.each(ENDINGS)('$name files', ({ eol }) => {
  /** A fixture whose conversion changes the file, and the text of its conversion. */
  const SOURCE = eol(read('qib', 'before.c'));
  const CONVERTED = eol(read('qib', 'after.6.5.c'));

  describe('writeAtomic', () => {
    it.each(['640', '755', '600', '2755'])('writes the new bytes and keeps mode %s', (octal) => {
      const mode = parseInt(octal, 8);
      const file = oneFile(SOURCE);
      chmodSync(file, mode);
      writeAtomic(file, SOURCE, CONVERTED);
      expect(readFileSync(file, 'utf8')).toBe(CONVERTED);
      expect(statSync(file).mode & 0o7777).toBe(mode);
      expect(readdirSync(join(file, '..'))).toEqual(['qib.c']);
    });

    it.skipIf(!isRoot)('keeps the owner and group (as root)', () => {
      const file = oneFile(SOURCE);
      chownSync(file, 65534, 65534);
      writeAtomic(file, SOURCE, CONVERTED);
      expect(statSync(file)).toMatchObject({ uid: 65534, gid: 65534 });
    });

    // Same size: the temp file is written before the byte compare refuses, and must go.
    it('refuses a file changed on disk since it was read, same size or not, its endings only too, and leaves it and its directory alone', () => {
      // (dos2unix or unix2dos run on it meanwhile: the same text, other bytes.)
      const otherEndings = SOURCE.includes('\r\n') ? SOURCE.replaceAll('\r\n', '\n') : crlf(SOURCE);
      for (const now of [SOURCE.replace('int', 'INT'), `${SOURCE}/* edited */\n`, otherEndings]) {
        const file = oneFile(now);
        expect(() => writeAtomic(file, SOURCE, CONVERTED)).toThrow(new WriteRefused('changed on disk since it was read'));
        expect(readFileSync(file, 'utf8')).toBe(now);
        expect(readdirSync(join(file, '..'))).toEqual(['qib.c']);
      }
    });

    it('compares bytes, not decoded text: a file that is not valid UTF-8 is refused, not mangled', () => {
      // A Latin-1 "é" in a comment decodes to U+FFFD: the text matches, writing it back would not.
      const bytes = Buffer.concat([Buffer.from(eol('/* Copyright Ren\xe9 */\n'), 'latin1'), Buffer.from(SOURCE)]);
      const file = oneFile(bytes);
      const text = bytes.toString('utf8');
      expect(() => writeAtomic(file, text, text.replace('get_user_pages', 'pin_user_pages'))).toThrow(/not valid UTF-8/);
      expect(readFileSync(file).equals(bytes)).toBe(true);
    });

    it('refuses a path that became a directory, and leaves no temp file', () => {
      const file = oneFile(SOURCE);
      rmSync(file);
      mkdirSync(file);
      expect(() => writeAtomic(file, SOURCE, CONVERTED)).toThrow(WriteRefused);
      expect(readdirSync(join(file, '..'))).toEqual(['qib.c']);
      expect(statSync(file).isDirectory()).toBe(true);
    });

    it('writes through a symlink to the file it points to: the link stays a link', () => {
      const file = oneFile(SOURCE);
      const link = join(file, '..', 'link.c');
      symlinkSync('qib.c', link);
      writeAtomic(link, SOURCE, CONVERTED);
      expect(lstatSync(link).isSymbolicLink()).toBe(true);
      expect(readlinkSync(link)).toBe('qib.c');
      expect(readFileSync(file, 'utf8')).toBe(CONVERTED);
    });

    it('names temp files so that two processes never share one and no walk takes one for a source', () => {
      const dir = scratchDir();
      const names = Array.from({ length: 100 }, () => tempPath(join(dir, 'umem.c')));
      expect(new Set(names).size).toBe(100);
      for (const name of names) {
        expect(name.slice(dir.length + 1)).toMatch(TEMP_RE);
        expect(name).toContain(`.gup2pin-${process.pid}-`);
        expect(isCFile(name)).toBe(false);
      }
      writeFileSync(names[0], SOURCE);
      expect(walk([dir]).files).toEqual([]);
      // NAME_MAX: a long source name gives a temp name the file system still takes.
      expect(tempPath(join(dir, `${'x'.repeat(250)}.c`)).slice(dir.length + 1).length).toBeLessThanOrEqual(255);
    });
  });


  describe('gup2pin apply, file by file', () => {
    it('leaves a file that is not valid UTF-8 byte for byte as it was, and writes the others (exit 2)', () => {
      const root = scratchDir();
      const latin1 = Buffer.concat([Buffer.from(eol('/* (c) Ren\xe9 */\n'), 'latin1'), Buffer.from(SOURCE)]);
      writeFileSync(join(root, 'a.c'), latin1);
      writeFileSync(join(root, 'b.c'), SOURCE);
      const r = gup2pin(['apply', '--target', '6.5', '.'], root);
      expect(r.code).toBe(2);
      // The reader skips it, or else writeAtomic's byte compare refuses it: either way it is named.
      expect(r.stderr).toMatch(/^gup2pin: a\.c: .*not valid UTF-8/m);
      expect(r.stdout).toBe('converted b.c\n');
      expect(readFileSync(join(root, 'a.c')).equals(latin1)).toBe(true);
      expect(readFileSync(join(root, 'b.c'), 'utf8')).toBe(CONVERTED);
    });

    it('writes a file reached through a symlink in the tree once, and keeps the link', () => {
      const root = scratchDir();
      writeFileSync(join(root, 'a.c'), SOURCE);
      symlinkSync('a.c', join(root, 'b.c'));
      const r = gup2pin(['apply', '--target', '6.5', '.'], root);
      expect(r).toMatchObject({ code: 0, stdout: 'converted a.c\n' });
      expect(lstatSync(join(root, 'b.c')).isSymbolicLink()).toBe(true);
      expect(readFileSync(join(root, 'a.c'), 'utf8')).toBe(CONVERTED);
    });

    // Root may rename over anything: a failing rename needs another user (nobody), in a sticky
    // directory holding a file of root's — the temp file is written, the rename is refused.
    it.skipIf(!isRoot)('removes its temp file when the rename fails (as uid 65534, sticky directory)', () => {
      const root = scratchDir();
      chmodSync(root, 0o755);
      const dir = join(root, 'drivers');
      mkdirSync(dir);
      chmodSync(dir, 0o1777);
      writeFileSync(join(dir, 'qib.c'), SOURCE);
      const r = gup2pin(['apply', '--target', '6.5', 'drivers'], root, { uid: 65534, gid: 65534 });
      expect(r.stderr).toMatch(/^gup2pin: drivers\/qib.c: not written: EPERM: operation not permitted, rename /m);
      expect(r.code).toBe(2);
      expect(readdirSync(dir)).toEqual(['qib.c']);
      expect(readFileSync(join(dir, 'qib.c'), 'utf8')).toBe(SOURCE);
    });
  });
});

/**
 * Interrupting apply. A tree of every fixture, COPIES times (every other copy CRLF), applied
 * together with a directory of small files without GUP calls so that the run uses worker threads
 * (2,000+ files); those are never written, so every run shares one directory of them and only
 * the tree is copied. --no-verify keeps each run short (the writes are the same). Every file must
 * hold its original bytes or its converted ones, every file reported `converted` its converted
 * ones, and the exit status must show the signal arrived (killed by it, or 128 + its number when
 * apply caught it): a signal sent after the run ended would leave every file converted and prove
 * nothing.
 */
describe('gup2pin apply, interrupted', () => {
  const COPIES = 6;
  const OTHERS = 1900;
  let others: string;
  const args = () => ['apply', '--no-verify', '--target', '6.5', 'drivers', others];

  /** Every file under `dir`, relative, with its bytes. */
  const files = (dir: string) =>
    new Map(
      readdirSync(dir, { recursive: true, withFileTypes: true })
        .filter((d) => d.isFile())
        .map((d) => {
          const path = join(d.parentPath ?? d.path, d.name);
          return [path.slice(dir.length + 1), readFileSync(path)] as const;
        }),
    );

  let source: string;
  let original: Map<string, Buffer>;
  /** An uninterrupted run on another copy: what every file becomes, and when the writes happen. */
  let clean: Run;
  let converted: Map<string, Buffer>;

  /** This block's directories: removed by its own hook, with time for a loaded machine. */
  const made: string[] = [];
  const dirFor = () => {
    const dir = scratchDir();
    made.push(dir);
    return dir;
  };
  afterAll(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  const copy = () => {
    const dir = dirFor();
    cpSync(source, dir, { recursive: true });
    return dir;
  };

  beforeAll(async () => {
    source = dirFor();
    // Every other copy in CRLF: files of both endings among the interrupted writes.
    for (let i = 0; i < COPIES; i++) {
      mkdirSync(join(source, 'drivers', `d${i}`), { recursive: true });
      for (const n of fixtureNames()) writeFileSync(join(source, 'drivers', `d${i}`, `${n}.c`), i % 2 ? crlf(read(n, 'before.c')) : read(n, 'before.c'));
    }
    others = dirFor();
    for (let i = 0; i < OTHERS; i++) writeFileSync(join(others, `f${i}.c`), `int f${i}(void)\n{\n\treturn ${i};\n}\n`);
    original = files(source);
    const dir = copy();
    clean = await applyAndSignal(dir);
    converted = files(dir);
  }, 60_000);

  /** Files an uninterrupted apply changes. */
  const toWrite = () => [...original].filter(([rel, bytes]) => !bytes.equals(converted.get(rel)!)).length;

  it('converts enough files for the interruptions to land among the writes', () => {
    expect({ code: clean.code, signal: clean.signal, sent: clean.sent }).toEqual({ code: 0, signal: null, sent: false });
    expect(toWrite()).toBeGreaterThan(50);
    expect(clean.stdout.split('\n').filter(Boolean).length).toBe(toWrite());
  });

  interface Run {
    code: number | null;
    signal: NodeJS.Signals | null;
    stdout: string;
    stderr: string;
    /** Milliseconds from the start to the first `converted` line, and to the exit. */
    firstWrite?: number;
    end: number;
    /** The signal was sent while the child still ran (its exit status says whether it arrived). */
    sent: boolean;
  }

  /** apply in `dir`, sent `signal` after `delay` ms or, with delay 'first', at its first write. */
  function applyAndSignal(dir: string, signal?: NodeJS.Signals, delay?: number | 'first'): Promise<Run> {
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const child = spawn(process.execPath, [BIN, ...args()], { cwd: dir });
      let stdout = '';
      let stderr = '';
      let firstWrite: number | undefined;
      let sent = false;
      const send = () => {
        if (child.exitCode === null && child.signalCode === null) sent = child.kill(signal);
      };
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        if (firstWrite === undefined && stdout.includes('converted ')) {
          firstWrite = performance.now() - started;
          if (signal && delay === 'first') send();
        }
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const timer = signal && typeof delay === 'number' ? setTimeout(send, delay) : undefined;
      child.on('error', reject);
      child.on('close', (code, sig) => {
        clearTimeout(timer);
        resolve({ code, signal: sig, stdout, stderr, firstWrite, end: performance.now() - started, sent });
      });
    });
  }

  /**
   * apply in a fresh copy, sent `signal` after a random delay in [from, to) ms. A run that ends
   * before the delay (this machine was faster than for the clean run) is made again with the
   * range scaled to its own length, so the signal lands in a running apply.
   */
  async function applyInterrupted(signal: NodeJS.Signals, from: number, to: number) {
    for (let attempt = 1; ; attempt++) {
      const delay = Math.round(from + Math.random() * (to - from));
      const dir = copy();
      const r = await applyAndSignal(dir, signal, delay);
      // Sent is not arrived: a child already exiting on its own can still be signalled.
      const arrived = r.sent && (r.signal === signal || r.code === 128 + constants.signals[signal]);
      if (arrived || attempt === 5) return { dir, r, what: `${signal} after ${delay} ms (${r.signal ?? `exit ${r.code}`})` };
      const scale = (0.9 * r.end) / to;
      from *= scale;
      to *= scale;
    }
  }

  /** Files apply reported as `converted` (relative to the tree). */
  const reported = (r: Run) => r.stdout.split('\n').filter(Boolean).map((l) => /^converted (\S+)$/.exec(l)![1]);

  /** Each file is old or new; the names that are neither are our temp files (`temps` says if allowed). */
  function checkOldOrNew(dir: string, temps: 'allowed' | 'none', what: string, r?: Run) {
    const now = files(dir);
    let changed = 0;
    for (const [rel, before] of original) {
      const bytes = now.get(rel);
      expect(bytes, `${what}: ${rel} is gone`).toBeDefined();
      const isNew = bytes!.equals(converted.get(rel)!);
      expect(isNew || bytes!.equals(before), `${what}: ${rel} is neither the original nor the converted file`).toBe(true);
      if (isNew && !before.equals(bytes!)) changed++;
    }
    // A file is reported once written: every one reported is converted on disk.
    for (const rel of r ? reported(r) : []) expect(now.get(rel)!.equals(converted.get(rel)!), `${what}: ${rel} reported but not converted`).toBe(true);
    const extra = [...now.keys()].filter((rel) => !original.has(rel));
    for (const rel of extra) {
      expect(isCFile(rel), `${what}: ${rel} left behind`).toBe(false);
      expect(rel.split('/').pop(), `${what}: ${rel} left behind`).toMatch(TEMP_RE);
    }
    if (temps === 'none') expect(extra, `${what}: temp files left behind`).toEqual([]);
    return changed;
  }

  it('leaves every file either old or fully converted when SIGKILLed at any moment, and a second run finishes the job', async () => {
    // At the first write, then anywhere from the end of the analysis to the end of the writes.
    const first = copy();
    const atFirst = await applyAndSignal(first, 'SIGKILL', 'first');
    // Killed by the signal, not ended on its own: no exit code.
    expect({ sent: atFirst.sent, code: atFirst.code, signal: atFirst.signal }).toEqual({ sent: true, code: null, signal: 'SIGKILL' });
    expect(checkOldOrNew(first, 'allowed', 'SIGKILL at the first write', atFirst)).toBeGreaterThan(0);
    for (let i = 0; i < 2; i++) {
      const { dir, r, what } = await applyInterrupted('SIGKILL', clean.firstWrite! * 0.9, clean.end);
      expect({ sent: r.sent, code: r.code, signal: r.signal }, what).toEqual({ sent: true, code: null, signal: 'SIGKILL' });
      checkOldOrNew(dir, 'allowed', what, r);
    }

    const again = await applyAndSignal(first);
    expect({ code: again.code, signal: again.signal }).toEqual({ code: 0, signal: null });
    checkOldOrNew(first, 'allowed', 'second run');
    for (const [rel, bytes] of converted) expect(readFileSync(join(first, rel)).equals(bytes), rel).toBe(true);
  }, 120_000);

  it.each(['SIGINT', 'SIGTERM'] as const)('stops between two files on %s: every file old or new, no temp file left, exit 128+signal', async (signal) => {
    const dir = copy();
    const r = await applyAndSignal(dir, signal, 'first');
    // Caught: apply exits itself, with the shell's status for the signal.
    expect({ sent: r.sent, code: r.code, signal: r.signal }).toEqual({ sent: true, code: signal === 'SIGINT' ? 130 : 143, signal: null });
    const changed = checkOldOrNew(dir, 'none', signal, r);
    expect(r.stderr).toContain(`gup2pin: ${signal}: stopped between two files, ${changed} written; `);
    expect(changed).toBeGreaterThan(0);
    expect(changed).toBe(reported(r).length);
  }, 60_000);

  it('SIGINT anywhere in the run: before the writes it ends the run with nothing written, during them it stops between two files', async () => {
    const { dir, r, what } = await applyInterrupted('SIGINT', 0, clean.end);
    expect(r.sent, what).toBe(true);
    const changed = checkOldOrNew(dir, 'none', what, r);
    if (r.signal === 'SIGINT') {
      // Not caught (the default action): before the writes, nothing is written; after them, all.
      expect(r.code, what).toBeNull();
      expect([0, toWrite()], what).toContain(changed);
    } else {
      // Caught among the writes: stopped between two files, exit 128 + SIGINT.
      expect(r.code, what).toBe(130);
      expect(r.stderr, what).toContain(`gup2pin: SIGINT: stopped between two files, ${changed} written; `);
      expect(changed, what).toBe(reported(r).length);
    }
  }, 60_000);
});
