#!/usr/bin/env node
// `npm start` runs this before starting: it compiles the service (src/, specs excluded,
// tsconfig.build.json, and the web console's ui/src with ui/tsconfig.json) only when a
// source is newer than the last successful build, so an
// unchanged checkout starts at once instead of spending 10 s (no-change incremental tsc)
// to a minute (cold) in the compiler.
//
// Fresh = dist/.build-stamp exists, dist/src/main.js exists, and no file under src/ nor
// tsconfig*.json / package.json / package-lock.json has a newer mtime than the stamp.
// The stamp is written only after tsc succeeds, so a failed build is retried next time.
//   node scripts/build-if-stale.mjs           build when stale
//   node scripts/build-if-stale.mjs --force   build anyway
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'dist', '.build-stamp');
const entry = join(root, 'dist', 'src', 'main.js');
const inputs = ['tsconfig.json', 'tsconfig.build.json', 'ui/tsconfig.json', 'package.json', 'package-lock.json'];
// The web console's browser scripts (ui/src → dist/ui) have their own tsconfig (DOM types).
const projects = ['tsconfig.build.json', 'ui/tsconfig.json'];

/** Newest mtime (ms) of the files under `dir`. */
function newestUnder(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestUnder(p));
    else if (e.isFile()) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function staleReason() {
  if (process.argv.includes('--force')) return '--force';
  if (!existsSync(entry) || !existsSync(join(root, 'dist', 'ui', 'main.js'))) return 'no build yet';
  if (!existsSync(stamp)) return 'no build stamp';
  const built = statSync(stamp).mtimeMs;
  const newest = Math.max(
    newestUnder(join(root, 'src')),
    newestUnder(join(root, 'ui', 'src')),
    ...inputs.map((f) => (existsSync(join(root, f)) ? statSync(join(root, f)).mtimeMs : 0)),
  );
  return newest > built ? 'sources changed since the last build' : undefined;
}

const reason = staleReason();
if (reason === undefined) process.exit(0);
const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
const started = Date.now();
process.stderr.write(`building (${reason})…\n`);
for (const project of projects) {
  const run = spawnSync(process.execPath, [tsc, '-p', join(root, project)], { stdio: 'inherit' });
  if (run.status !== 0) {
    process.stderr.write(`build failed (tsc -p ${project} exit ${run.status ?? run.signal}); not starting\n`);
    process.exit(run.status ?? 1);
  }
}
mkdirSync(dirname(stamp), { recursive: true });
// Stamped with the time the build started: a file saved during the build is newer, so it rebuilds next time.
writeFileSync(stamp, `${new Date(started).toISOString()}\n`);
utimesSync(stamp, new Date(started), new Date(started));
process.stderr.write(`built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
