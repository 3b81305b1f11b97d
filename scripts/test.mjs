#!/usr/bin/env node
// Runs the compiled tests with Node's own runner and ends with one plain line
// `N passed, N failed[, N skipped]` that CI reads.
//
//   node scripts/test.mjs            unit specs (dist/src/**/*.spec.js), then integration tests (dist/test/**/*.test.js)
//   node scripts/test.mjs --unit     unit specs only
//   node scripts/test.mjs vm saga    only files whose path contains "vm" or "saga"
//
// Unit specs run first, as one `node --test` with one file per core. Integration test files then
// run each in its own `node --test`, several at once, under a small scheduler that keeps files
// apart when they share something (see RULES): the one system libvirtd, or a core kept busy for
// long (QEMU guests under TCG, chaos scenarios that time a recovery). A file's output is printed
// in one piece when it ends, so files never interleave.
//
// Environment: VL_TEST_SLOTS  how much runs at once, in half-cores (default: 2 per core; a light
//                             file takes 1, a CPU-heavy one 2). VL_TEST_SLOTS=1 runs one file at a time.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const cores = Math.max(1, availableParallelism());

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

const display = (f) => relative(root, f).split(sep).join('/');
const matches = (f) => !filters.length || filters.some((s) => display(f).includes(s));
const units = collect('src', '.spec.js').filter(matches);
const integration = unitOnly ? [] : collect('test', '.test.js').filter(matches);

if (units.length + integration.length === 0) {
  console.error(
    `no compiled test files found${filters.length ? ` matching ${filters.join(', ')}` : ''} (did the build run?)`,
  );
  console.log('0 passed, 0 failed');
  process.exit(1);
}

/**
 * What an integration file needs besides a share of the CPU, first match wins. `slots` is in
 * half-cores; `locks` are resources only one file may hold at a time.
 */
const RULES = [
  // The system libvirtd (and the peer .ci/services/libvirt.sh starts) is one daemon for every
  // file; these also boot TCG guests. Every such file must be named here: hot-resize was not, so
  // a full run ran it as a light file beside another file's guests on the same daemons.
  {
    test: /^dist\/test\/drivers\/libvirt\/libvirt(-lifecycle|-migration|-migration-cancel|-events|-console|-hot-resize|-network|-seed|-resize|-volumes|-volume-migration|\.contract)\.test\.js$/,
    slots: 2,
    locks: ['libvirtd'],
  },
  // Real QEMU under TCG keeps a core busy; the console panel's test boots one too, beside Chromium.
  { test: /^dist\/test\/drivers\/qemu\//, slots: 2, locks: [] },
  { test: /^dist\/test\/ui\/console-panel\.test\.js$/, slots: 2, locks: [] },
  // Three worker processes and TCG guests migrating between them.
  { test: /^dist\/test\/process\/fence-migration-qemu\.test\.js$/, slots: 2, locks: [] },
  // Guests on bridges, dnsmasq, a second host's namespace: TCG guests again.
  { test: /^dist\/test\/drivers\/network\//, slots: 2, locks: [] },
  // Chaos scenarios kill and restart processes and time the recovery: not on a starved CPU.
  { test: /^dist\/test\/chaos\//, slots: 2, locks: [] },
  // 2000 concurrent commands then a full shadow replay: minutes of one busy core.
  { test: /^dist\/test\/audit\/replay-check\./, slots: 2, locks: [] },
];
const LIGHT = { slots: 1, locks: [] };
const needs = (file) => RULES.find((r) => r.test.test(display(file))) ?? LIGHT;

const slotsEnv = Number(process.env.VL_TEST_SLOTS);
const capacity = Number.isInteger(slotsEnv) && slotsEnv > 0 ? slotsEnv : 2 * cores;

const baseArgs = [
  '--test',
  '--test-reporter=spec',
  '--test-reporter-destination=stdout',
  '--test-timeout=600000',
  // A test that leaks a handle (a Redis client, a timer) would otherwise hold its file open until CI's deadline.
  '--test-force-exit',
  // ...which would drop a child's last results unless its writes block (see the file).
  `--import=${pathToFileURL(join(root, 'scripts', 'test-child-flush.mjs')).href}`,
];

const totals = { pass: 0, fail: 0, cancelled: 0, skipped: 0, todo: 0 };
let exitCode = 0;
const failedFiles = [];
const children = new Set();
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => children.forEach((c) => c.kill(sig)));

/**
 * Runs `node --test ...files`; streams its output when `stream`, else prints it in one piece at
 * the end. Adds its summary to the totals; a run without a summary counts as one failure.
 */
function runNode(files, extraArgs, stream, name) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [...baseArgs, ...extraArgs, ...files.map(display)], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    const counts = {};
    const chunks = [];
    let pending = '';
    const parse = (line) => {
      // eslint-disable-next-line no-control-regex
      const m = /^ℹ (\w+) (\d+(?:\.\d+)?)$/.exec(line.replace(/\x1b\[[0-9;]*m/g, '').trim());
      if (m) counts[m[1]] = Number(m[2]);
    };
    child.stdout.on('data', (chunk) => {
      if (stream) process.stdout.write(chunk);
      else chunks.push(chunk);
      const lines = (pending + chunk.toString('utf8')).split('\n');
      pending = lines.pop() ?? '';
      lines.forEach(parse);
    });
    child.stderr.on('data', (chunk) => (stream ? process.stderr.write(chunk) : chunks.push(chunk)));
    child.on('close', (code, signal) => {
      children.delete(child);
      parse(pending);
      if (!stream) process.stdout.write(Buffer.concat(chunks));
      const label = name ?? display(files[0]);
      if (counts.pass === undefined || counts.fail === undefined) {
        console.error(`node --test ${label} ended (${signal ?? `exit ${code}`}) without printing its summary`);
        totals.fail += 1;
      } else {
        for (const k of Object.keys(totals)) totals[k] += counts[k] ?? 0;
      }
      if (code !== 0) {
        exitCode = code ?? 1;
        failedFiles.push(label);
      }
      console.log(`── ${label}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      resolve();
    });
  });
}

/** Runs files as soon as their slots and locks are free, in the order given. */
async function schedule(files) {
  const queue = [...files];
  let used = 0;
  const held = new Set();
  const running = new Set();
  const fits = (n) => Math.min(n.slots, capacity) <= capacity - used && n.locks.every((l) => !held.has(l));
  while (queue.length || running.size) {
    for (let i = 0; i < queue.length;) {
      const n = needs(queue[i]);
      if (!fits(n)) {
        i++;
        continue;
      }
      const [file] = queue.splice(i, 1);
      const slots = Math.min(n.slots, capacity);
      used += slots;
      n.locks.forEach((l) => held.add(l));
      const job = runNode([file], [], false, undefined).then(() => {
        used -= slots;
        n.locks.forEach((l) => held.delete(l));
        running.delete(job);
      });
      running.add(job);
    }
    if (running.size) await Promise.race(running);
  }
}

const t0 = Date.now();
if (units.length) await runNode(units, [`--test-concurrency=${cores}`], true, `unit specs (${units.length} files)`);
if (integration.length) {
  // The files that hold a lock or a whole core first: they are the long ones, and light files
  // fill the slots beside them.
  const rank = (f) => {
    const n = needs(f);
    return n.locks.length ? 0 : n.slots > 1 ? 1 : 2;
  };
  await schedule([...integration].sort((a, b) => rank(a) - rank(b) || display(a).localeCompare(display(b))));
}

// A cancelled test (timeout, a file that crashed) did not pass: count it with the failures.
const failed = totals.fail + totals.cancelled;
const skipped = totals.skipped + totals.todo;
if (failed > 0 && exitCode === 0) exitCode = 1;
console.log(`── all: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
if (failedFiles.length) console.log(`failed: ${failedFiles.join(', ')}`);
console.log(`\n${totals.pass} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(exitCode);
