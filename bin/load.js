// Loads a TypeScript entry point of gup2pin without a build step the user has to run.
//
// Fast path: an esbuild bundle of the entry, cached in node_modules/.cache/gup2pin/ under a
// hash of the sources, so a warm start skips tsx's hooks worker and per-module compilation. The
// bundle is CommonJS, run through node:vm with V8's code cache beside it (`.code`): Node 20 has no
// code cache for ES modules, and compiling the bundle again on every start was a quarter of it
// (`gup2pin --version` 0.30 s → 0.23 s here).
// Slow path: tsx, as before. Any failure of the cache (read-only install, esbuild missing, a
// bundle error) silently takes the slow path; GUP2PIN_NO_CACHE=1 forces it.
//
// The launcher is CommonJS (bin/package.json): Node's ES module loader costs a start 8 ms (an
// empty .mjs file runs in 111 ms here, an empty .cjs one in 103 ms; `gup2pin diff` of an empty
// directory 197 -> 191 ms, 20 runs each), in the main thread and in each worker.
'use strict';
const { createHash } = require('node:crypto');
const { accessSync, closeSync, constants, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } = require('node:fs');
const { SourceMap, createRequire } = require('node:module');
const { dirname, join, relative, sep } = require('node:path');
const { fileURLToPath, pathToFileURL } = require('node:url');
const { Script } = require('node:vm');

const SELF = __filename;
const ROOT = dirname(__dirname) + sep;
// Inside the package's own node_modules, so the bundle's bare imports (yargs, tree-sitter's
// native addon, …) resolve exactly as they do from src/.
const CACHE = join(ROOT, 'node_modules', '.cache', 'gup2pin');

/** Entry points by name; each is bundled on its own. */
const ENTRIES = {
  cli: 'src/cli.ts',
  worker: 'src/parallel/worker.ts',
};

/** Runs a bundle (CommonJS) with its code cache, and returns its exports. */
function runBundle(file) {
  const codeFile = `${file}.code`;
  let cachedData;
  try {
    cachedData = readFileSync(codeFile);
  } catch {
    // None yet: made once this run has compiled what it runs (keepCode).
  }
  // One line, so that the bundle's lines (its source map's) stay where they are.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${readFileSync(file, 'utf8')}\n})`, { filename: file, cachedData });
  const module = { exports: {} };
  script.runInThisContext().call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  // Tagged as a module namespace is, so that a stack reads `Module.main` as on the tsx path.
  Object.defineProperty(module.exports, Symbol.toStringTag, { value: 'Module' });
  if (!cachedData || script.cachedDataRejected) pendingCode.push({ script, codeFile });
  return module.exports;
}

/** Bundles run without a usable code cache, whose cache keepCode writes. */
const pendingCode = [];

/**
 * Writes the code cache of the bundles this thread ran without one. Called once the work is
 * done, so the cache holds every function the run compiled, not just the bundle's top level.
 * Only an optimisation: any failure leaves the next run to compile as this one did.
 */
function keepCode() {
  for (const { script, codeFile } of pendingCode.splice(0)) {
    try {
      writeAtomic(codeFile, script.createCachedData());
    } catch {
      // Read-only cache, full disk: compiled again next time.
    }
  }
}

/** Imports the named entry point and returns its module namespace. */
async function loadEntry(name) {
  const entry = Object.hasOwn(ENTRIES, name) ? ENTRIES[name] : undefined;
  if (!entry) throw new Error(`unknown entry point: ${name}`);
  // Which checkout started this run: its bin/worker.js is what threads load, wherever the bundle
  // resolves to (node_modules may be a symlink into another checkout, as pnpm and worktrees do).
  globalThis[Symbol.for('gup2pin.root')] = ROOT;
  if (process.env.GUP2PIN_NO_CACHE !== '1') {
    try {
      const file = await bundle(name);
      // The result cache (src/cache/results.ts) lives here too, and is only sound for a known build.
      globalThis[Symbol.for('gup2pin.cache')] = { dir: CACHE, build: sourceKey() };
      const exports = runBundle(file);
      // Resolved from an event-loop turn of its own, as an import() is: a crash's stack then
      // ends where the tsx path's does, not in the tick queue the bundle's top level left work in.
      await new Promise(setImmediate);
      return exports;
    } catch {
      // Fall through: the cache is an optimisation, never a reason to fail. (A real error in
      // the sources is raised again, unchanged, by the tsx path.)
    }
  }
  if (!tsxRegistered) {
    (await import('tsx/esm/api')).register();
    tsxRegistered = true;
  }
  return import(pathToFileURL(join(ROOT, entry)).href);
}
let tsxRegistered = false;

let key;
/**
 * Hash of everything a bundle depends on: the sources, package.json and tsconfig.json (compile
 * options), the lockfile (the dependencies' versions), and this file (bundle options). ~300 KB
 * read and hashed, 13 ms of every start: so it is kept in a stamp under the files' stats, as git's
 * index keeps file contents, and read and hashed again only when a stat changed.
 */
function sourceKey() {
  if (key) return key;
  const files = [];
  const walk = (dir) => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, d.name);
      if (d.isDirectory()) walk(p);
      else if (d.name.endsWith('.ts')) files.push(p);
    }
  };
  walk(join(ROOT, 'src'));
  walk(join(ROOT, 'transforms'));
  files.push(join(ROOT, 'package.json'), join(ROOT, 'package-lock.json'), join(ROOT, 'tsconfig.json'), SELF);
  files.sort();
  const stats = files.map((f) => statSync(f, { bigint: true, throwIfNoEntry: false }));
  const signature = createHash('sha256')
    .update(files.map((f, i) => `${relative(ROOT, f)}\0${stats[i] ? `${stats[i].size} ${stats[i].mtimeNs} ${stats[i].ctimeNs} ${stats[i].ino}` : '-'}`).join('\n'))
    .digest('hex');
  const stamp = join(CACHE, 'sources.stamp');
  try {
    const [kept, keptKey] = readFileSync(stamp, 'utf8').split(' ');
    if (kept === signature && /^[0-9a-f]{20}$/.test(keptKey)) return (key = keptKey);
  } catch {
    // No stamp yet: hashed below.
  }
  const h = createHash('sha256');
  for (const f of files) {
    h.update(`${relative(ROOT, f)}\0`);
    // tsconfig.json and the lockfile are not in the npm package ("files"): esbuild then uses
    // its defaults, and the installed versions are the ones package.json allows.
    if (existsSync(f)) h.update(readFileSync(f));
    h.update('\0');
  }
  key = h.digest('hex').slice(0, 20);
  // A file changed within a timestamp tick of now could change again under the same stat: no stamp.
  const settled = BigInt(Date.now() - 2000) * 1_000_000n;
  if (stats.every((st) => !st || (st.mtimeNs < settled && st.ctimeNs < settled))) {
    try {
      mkdirSync(CACHE, { recursive: true });
      writeAtomic(stamp, `${signature} ${key}`);
    } catch {
      // A read-only cache: hashed again next time.
    }
  }
  return key;
}

/**
 * yargs and its cliui measure text with string-width, whose module builds Unicode property
 * regular expressions and an Intl.Segmenter as it loads: 21 ms of every start, for help text a
 * run seldom prints. Each import of it gets a stand-in that loads the real module (the one that
 * importer resolves to) on first call.
 */
const lazyStringWidth = {
  name: 'lazy-string-width',
  setup(build) {
    build.onResolve({ filter: /^string-width$/ }, async (args) => {
      if (args.pluginData === 'real') return undefined;
      const real = await build.resolve(args.path, { resolveDir: args.resolveDir, kind: args.kind, pluginData: 'real' });
      if (real.errors.length) return undefined;
      return { path: real.path, namespace: 'lazy-string-width' };
    });
    build.onLoad({ filter: /.*/, namespace: 'lazy-string-width' }, (args) => ({
      contents: `let loaded;\nexport default (...args) => (loaded ??= require(${JSON.stringify(args.path)})).default(...args);\n`,
      resolveDir: dirname(args.path),
      loader: 'js',
    }));
  },
};

/**
 * Path of the bundle of `name` for the current sources. A missing one is built together with
 * every other missing entry: the CLI's first run also readies the worker bundle its threads load.
 */
async function bundle(name) {
  const fileOf = (n) => join(CACHE, `${n}-${sourceKey()}.cjs`);
  const file = fileOf(name);
  if (existsSync(file)) return file;
  // A read-only install fails here, before paying for a build it could not keep.
  mkdirSync(CACHE, { recursive: true });
  accessSync(CACHE, constants.W_OK);

  const missing = Object.keys(ENTRIES).filter((n) => n === name || !existsSync(fileOf(n)));
  const esbuild = await import('esbuild');
  let built;
  try {
    built = await Promise.all(
      missing.map((n) =>
        esbuild.build({
          absWorkingDir: ROOT,
          entryPoints: [join(ROOT, ENTRIES[n])],
          outfile: fileOf(n), // not written (write: false); sets where source map paths are relative to
          write: false,
          bundle: true,
          platform: 'node',
          format: 'cjs',
          target: 'node20',
          // A CommonJS bundle has no import.meta: the one place that asks for its own URL gets it.
          define: { 'import.meta.url': '__gup2pinBundleUrl' },
          banner: { js: 'const __gup2pinBundleUrl = require("node:url").pathToFileURL(__filename).href;' },
          external: ['tree-sitter', 'tree-sitter-c'],
          // Read only on a crash (mappedStack): Node mapping every stack costs each run ~17 ms.
          sourcemap: 'external',
          sourcesContent: false,
          logLevel: 'silent',
          plugins: [lazyStringWidth],
        }),
      ),
    );
  } finally {
    // The esbuild service process would otherwise live as long as this run.
    await esbuild.stop();
  }
  missing.forEach((n, i) => {
    const output = (ext) => built[i].outputFiles.find((o) => o.path.endsWith(ext)).contents;
    // The map first: a bundle in place has its map.
    writeAtomic(`${fileOf(n)}.map`, output('.cjs.map'));
    writeAtomic(fileOf(n), output('.cjs'));
    prune(n, fileOf(n));
  });
  return file;
}

/** A concurrent process sees no bundle or a whole one; two builders just both rename. */
function writeAtomic(file, contents) {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeFileSync(fd, contents);
      fsyncSync(fd); // never rename an empty file into place if the machine goes down
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Removes this entry's bundles for other keys, and temp files a crashed build left behind. */
function prune(name, keep) {
  try {
    const bundleName = new RegExp(`^${name}-[0-9a-f]+\\.[cm]js(\\.map|\\.code)?$`);
    const hourAgo = Date.now() - 3600_000;
    for (const f of readdirSync(CACHE)) {
      const p = join(CACHE, f);
      if (p === keep || p === `${keep}.map` || p === `${keep}.code`) continue;
      // A temp file may be another process's build in flight: only old ones are litter.
      if (bundleName.test(f) || (f.endsWith('.tmp') && statSync(p).mtimeMs < hourAgo)) rmSync(p, { force: true });
    }
  } catch {
    // Litter, not a failure.
  }
}

/**
 * `stack` with its frames in a cached bundle mapped back to src/*.ts, as the tsx path prints
 * them. The source maps are read only here, on a crash.
 */
function mappedStack(stack) {
  const maps = new Map();
  const cache = pathToFileURL(CACHE).href;
  return stack.replace(/((?:file:\/\/)?\/[^\s()]+?\.cjs):(\d+):(\d+)/g, (frame, where, line, column) => {
    const url = where.startsWith('file:') ? where : pathToFileURL(where).href;
    if (!url.startsWith(cache)) return frame;
    if (!maps.has(url)) {
      try {
        maps.set(url, new SourceMap(JSON.parse(readFileSync(`${fileURLToPath(url)}.map`, 'utf8'))));
      } catch {
        maps.set(url, undefined);
      }
    }
    const at = maps.get(url)?.findEntry(line - 1, column - 1);
    if (!at?.originalSource) return frame;
    return `${fileURLToPath(new URL(at.originalSource, url))}:${at.originalLine + 1}:${at.originalColumn + 1}`;
  });
}

module.exports = { keepCode, loadEntry, mappedStack };
