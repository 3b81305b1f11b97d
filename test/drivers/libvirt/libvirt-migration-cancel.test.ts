/**
 * Issue 16 item 2 against two real libvirtds (the system one and the namespaced peer of
 * .ci/services/libvirt.sh), through the app and its workers: DELETE /v1/operations/{id} on a live
 * migration (`virsh migrate --live --p2p --copy-storage-all`). The cancel is only asked; the
 * worker aborts libvirt's job (`domjobabort`) and libvirt's answer decides. At prepareIncoming or
 * mid-copy (the source capped at 1 MiB/s with `--bandwidth`) it ends `cancelled` with the VM on its
 * source only and the target's files gone; after the hand-off it is a 409. Each time the VM runs on
 * exactly one host, by libvirt's own listing of each daemon.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestApp, waitOperation, type TestApp } from '../../support/app.js';
import { waitFor } from '../../support/wait.js';
import { ensureGuest } from '../qemu/guest-console.js';
import {
  ensureDaemons,
  libvirtSkipReason,
  LibvirtTestEnv,
  virshSync,
  type LibvirtDaemons,
} from './libvirt-test-env.js';

const skip = libvirtSkipReason() ?? false;
type Json = Record<string, unknown>;

describe('cancel a live migration between two real libvirtds (through the workers)', { skip, timeout: 900_000 }, () => {
  let daemons: LibvirtDaemons;
  let env: LibvirtTestEnv;
  let t: TestApp;
  let image: string;
  const tag = randomUUID().slice(0, 6);
  const slow = `lv-slow-${tag}`;
  const fast = `lv-fast-${tag}`;
  const target = `lv-dst-${tag}`;
  const uriOf: Record<string, string> = {};
  const vms: string[] = [];

  before(async () => {
    daemons = ensureDaemons();
    assert.ok(daemons.peerUri, 'the peer libvirtd runs');
    env = new LibvirtTestEnv('vl-lvcancel-');
    const guest = ensureGuest();
    image = guest.image;
    t = await startTestApp();
    const common = { images: guest.imagesDir, stopTimeoutMs: '2000', domainType: 'qemu' };
    const hosts: Array<[string, string, Record<string, string>]> = [
      // 1 MiB/s: the guest's kernel and initrd in RAM alone keep the copy going for many seconds.
      [slow, daemons.uri, { migrationBandwidth: '1' }],
      [fast, daemons.uri, {}],
      [target, daemons.peerUri, { peerUri: daemons.peerUri, migrationHost: '127.0.0.1' }],
    ];
    for (const [id, uri, params] of hosts) {
      uriOf[id] = uri;
      const query = new URLSearchParams({ storage: join(env.root, `storage-${id}`), ...common, ...params });
      const res = await t.as('admin').post('/v1/hosts', {
        id,
        name: id,
        driver: 'libvirt',
        uri: `${uri}?${query.toString()}`,
        capacity: { vcpus: 8, memoryMiB: 4096, diskGiB: 40 },
      });
      assert.equal(res.status, 201, JSON.stringify(res.body));
    }
  });
  after(async () => {
    for (const vmId of vms) {
      const del = await t?.as('operator').delete(`/v1/vms/${vmId}`);
      if (del?.status === 202) await waitOperation(t, del.body.operationId as string, 120_000).catch(() => undefined);
    }
    await t?.close();
    await env?.cleanup([daemons.uri, daemons.peerUri ?? daemons.uri]);
    daemons?.stop();
  });

  const createOn = async (hostId: string, name: string): Promise<string> => {
    const res = await t.as('operator').post('/v1/vms', { name, vcpus: 1, memoryMiB: 128, diskGiB: 1, hostId, image });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const vmId = res.body.vmId as string;
    vms.push(vmId);
    const op = await waitOperation(t, res.body.operationId as string, 120_000);
    assert.equal(op.status, 'succeeded', JSON.stringify(op));
    return vmId;
  };
  const migrate = async (vmId: string): Promise<string> => {
    const res = await t.as('admin').post(`/v1/vms/${vmId}/migrations`, { targetHostId: target, live: true });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.operationId as string;
  };
  const operation = async (id: string): Promise<Json> => (await t.as('operator').get(`/v1/operations/${id}`)).body;
  const cancel = (id: string) => t.as('operator').delete(`/v1/operations/${id}?reason=changed%20my%20mind`);
  /** libvirt's own answer on one daemon: the domain's state word, or undefined when it has no such domain. */
  const libvirtState = (hostId: string, vmId: string): string | undefined => {
    try {
      return virshSync(uriOf[hostId]!, ['domstate', `vl-${vmId}`]).trim();
    } catch {
      return undefined;
    }
  };
  /** The VM runs on `on` and is defined nowhere on `off`, by each libvirtd's listing and by the API. */
  const runsOnlyOn = async (vmId: string, on: string, off: string) => {
    await waitFor(() => libvirtState(off, vmId) === undefined, {
      what: `${vmId} gone from ${off}`,
      timeoutMs: 60_000,
    });
    assert.equal(libvirtState(on, vmId), 'running');
    const running = (uri: string) =>
      virshSync(uri, ['list', '--name'])
        .split('\n')
        .map((s) => s.trim());
    const where = [on, off].filter((h) => running(uriOf[h]!).includes(`vl-${vmId}`));
    assert.deepEqual(where, [on], 'libvirt lists it running on exactly one host');
    const domains = (await t.as('operator').get(`/v1/hosts/${off}/domains`)).body.items as Array<{ vmId: string }>;
    assert.ok(!domains.some((d) => d.vmId === vmId), `${off}'s worker still reports ${vmId}`);
    const vm = (await t.as('operator').get(`/v1/vms/${vmId}`)).body;
    assert.equal(vm.hostId, on);
    assert.equal(vm.state, 'running');
  };
  const targetDirGone = (vmId: string) => !existsSync(join(env.root, `storage-${target}`, vmId));

  test('cancelled at once (prepareIncoming): cancelled, the VM on its source only, nothing left on the target', async () => {
    const vmId = await createOn(slow, `prep-${tag}`);
    const op = await migrate(vmId);
    const res = await cancel(op);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok(res.body.cancelRequested, 'a migration cancel is asked, then libvirt decides');
    const done = await waitOperation(t, op, 120_000);
    assert.equal(done.status, 'cancelled', JSON.stringify(done));
    assert.match(String((done.cancelled as Json).by), /^operator/);
    await runsOnlyOn(vmId, slow, target);
    await waitFor(() => targetDirGone(vmId), { what: 'the target VM dir removed by abortIncoming', timeoutMs: 60_000 });
  });

  test('cancelled mid copy: libvirt aborts its job, the source keeps running, the target is cleaned up', async () => {
    const vmId = await createOn(slow, `copy-${tag}`);
    const op = await migrate(vmId);
    // The worker reports libvirt's job figures while the copy runs: cancel only then.
    const seen = await waitFor(
      async () => {
        const o = await operation(op);
        const p = o.progress as Json | undefined;
        return o.status === 'running' && Number(p?.transferredBytes ?? 0) > 0 ? p : undefined;
      },
      { what: 'the copy under way', timeoutMs: 120_000 },
    );
    const res = await cancel(op);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const done = await waitOperation(t, op, 120_000);
    assert.equal(
      done.status,
      'cancelled',
      `${JSON.stringify(done)} (progress when cancelled: ${JSON.stringify(seen)})`,
    );
    // libvirt's own answer to the abort (virsh migrate's error once domjobabort landed), not a guess.
    assert.match(
      String(done.error),
      /^cancelled by operator.*: changed my mind \(migrate failed on host lv-slow-\w+: virsh migrate: operation aborted: migration out: canceled by client\)$/,
    );
    await runsOnlyOn(vmId, slow, target);
    await waitFor(() => targetDirGone(vmId), { what: 'the target VM dir removed by abortIncoming', timeoutMs: 60_000 });
  });

  test('after the hand-off: 409, and the migration finishes on the target', async () => {
    const vmId = await createOn(fast, `late-${tag}`);
    const op = await migrate(vmId);
    await waitFor(
      async () => {
        const o = await operation(op);
        const step = (o.progress as Json | undefined)?.step;
        return step === 'finishIncoming' || o.status === 'succeeded' ? o : undefined;
      },
      { what: 'hand-off', timeoutMs: 120_000 },
    );
    const res = await cancel(op);
    assert.equal(res.status, 409, JSON.stringify(res.body));
    assert.match(String(res.body.message), /too late to cancel|already (succeeded|done)/);
    assert.equal((await waitOperation(t, op, 120_000)).status, 'succeeded');
    await runsOnlyOn(vmId, target, fast);
  });
});
