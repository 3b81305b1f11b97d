#!/usr/bin/env node
// Runs the compiled tests with Node's own runner and ends with one plain line
// `N passed, N failed[, N skipped]` that CI reads.
//
//   node scripts/test.mjs            unit specs (dist/src/**/*.spec.js) and integration tests (dist/test/**/*.test.js)
//   node scripts/test.mjs --unit     unit specs only
//   node scripts/test.mjs vm saga    only files whose path contains "vm" or "saga"
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');

const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const filters = args.filter((a) => a !== '--unit');

/** Compiled files under dist/<dir> ending in `suffix`, whose .ts source still exists (tsc never deletes stale output). */
function collect(dir, suffix) {
  const out = [];
  const walk = (abs) => {
    let entries;
    try {
      entries = readdirSync(abs, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(abs, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(suffix)) {
        const source = join(root, relative(dist, p)).replace(/\.js$/, '.ts');
        if (existsSync(source)) out.push(p);
      }
    }
  };
  walk(join(dist, dir));
  return out.sort();
}

let files = collect('src', '.spec.js');
if (!unitOnly) files = files.concat(collect('test', '.test.js'));
const display = (f) => relative(root, f).split(sep).join('/');
if (filters.length) files = files.filter((f) => filters.some((s) => display(f).includes(s)));

if (files.length === 0) {
  console.error(
    `no compiled test files found${filters.length ? ` matching ${filters.join(', ')}` : ''} (did the build run?)`,
  );
  console.log('0 passed, 0 failed');
  process.exit(1);
}

const nodeArgs = [
  '--test',
  '--test-reporter=spec',
  '--test-reporter-destination=stdout',
  '--test-concurrency=2',
  '--test-timeout=600000',
  // A test that leaks a handle (a Redis client, a timer) would otherwise hold its file open until CI's deadline.
  '--test-force-exit',
  ...files.map(display),
];
const child = spawn(process.execPath, nodeArgs, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));

const counts = {};
let pending = '';
const parse = (line) => {
  // eslint-disable-next-line no-control-regex
  const m = /^ℹ (\w+) (\d+(?:\.\d+)?)$/.exec(line.replace(/\x1b\[[0-9;]*m/g, '').trim());
  if (m) counts[m[1]] = Number(m[2]);
};
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  const lines = (pending + chunk.toString('utf8')).split('\n');
  pending = lines.pop() ?? '';
  lines.forEach(parse);
});

child.on('close', (code, signal) => {
  parse(pending);
  const exitCode = code ?? 1;
  if (counts.pass === undefined || counts.fail === undefined) {
    console.error(`node --test ended (${signal ?? `exit ${code}`}) without printing its summary`);
    process.exit(exitCode === 0 ? 1 : exitCode);
  }
  // A cancelled test (timeout, a file that crashed) did not pass: count it with the failures.
  const failed = counts.fail + (counts.cancelled ?? 0);
  const skipped = (counts.skipped ?? 0) + (counts.todo ?? 0);
  console.log(`\n${counts.pass} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(exitCode);
});
