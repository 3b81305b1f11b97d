/**
 * The production shape as files: the image carries every driver's tools (the packages
 * .ci/packages/binaries.tsv names for them) and a HEALTHCHECK; docker-compose.yml is
 * valid for `docker-compose config`, and its worker neither waits for nor is told of
 * the event store, and serves /metrics. (No image is built here: that needs a daemon.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

// Tests run from dist/test/process; the files are read from the repository.
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const read = (f: string) => readFileSync(join(ROOT, f), 'utf8');

/** The programs each driver runs on a host (src/drivers/*), as binaries.tsv lists them. */
const DRIVER_BINARIES = ['qemu-system-x86_64', 'qemu-img', 'virsh', 'runc', 'busybox', 'mkfs.ext4', 'unshare'];

function composeSkipReason(): string | undefined {
  return spawnSync('docker-compose', ['version']).status === 0
    ? undefined
    : 'docker-compose not installed (docker-compose)';
}

/** One service's block of `docker-compose config` output (normalized YAML, two-space indent). */
function serviceBlock(config: string, name: string): string {
  const m = new RegExp(`^  ${name}:\\n((?:    .*\\n|\\s*\\n)*)`, 'm').exec(config);
  assert.ok(m, `service ${name} in:\n${config}`);
  return m[1]!;
}

describe('production shape: Dockerfile and docker-compose.yml', () => {
  test('the runtime image installs the package of every driver tool, and has a HEALTHCHECK', () => {
    const dockerfile = read('Dockerfile');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    const packages = new Map<string, string>();
    for (const line of read('.ci/packages/binaries.tsv').split('\n')) {
      const [bin, pkg] = line.split(/\s+/);
      if (bin && pkg && !bin.startsWith('#')) packages.set(bin, pkg);
    }
    for (const bin of DRIVER_BINARIES) {
      const pkg = packages.get(bin);
      assert.ok(pkg, `binaries.tsv names a package for ${bin}`);
      assert.match(
        runtime,
        new RegExp(`\\s${pkg.replace(/[.+]/g, '\\$&')}(\\s|$)`),
        `${bin}: package ${pkg} in the image`,
      );
    }
    // VM networks: dnsmasq's DHCP/DNS without its system service.
    assert.match(runtime, /\sdnsmasq-base\s/);
    assert.match(runtime, /^HEALTHCHECK .*CMD \["node", "scripts\/healthcheck\.mjs"\]/ms);
    assert.match(dockerfile, /^ARG NODE_IMAGE=node:(\d+)-/m);
    const major = Number(/^ARG NODE_IMAGE=node:(\d+)-/m.exec(dockerfile)![1]);
    assert.ok(major % 2 === 0 && major >= 24, `node ${major}: an LTS line (even), not an ended one`);
  });

  test(
    'docker-compose config accepts the file; the worker has no store dependency and serves /metrics',
    { skip: composeSkipReason() },
    () => {
      const r = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config'], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, AUTH_TOKENS: '' },
        timeout: 60_000,
      });
      assert.equal(r.status, 0, r.stderr);
      const worker = serviceBlock(r.stdout, 'worker');
      assert.match(worker, /- worker\n/);
      assert.doesNotMatch(worker, /kurrentdb/i, 'no depends_on the store');
      assert.doesNotMatch(worker, /EVENTSTORE_URL/);
      assert.match(worker, /redis:\n\s+condition: service_healthy/);
      assert.match(worker, /METRICS_PORT: '?"?9464/);
      const api = serviceBlock(r.stdout, 'api');
      assert.match(api, /kurrentdb:\n\s+condition: service_healthy/);
      assert.match(api, /EVENTSTORE_URL: kurrentdb:\/\//);
    },
  );
});
