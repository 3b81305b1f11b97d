import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { DriverError } from '../../../src/drivers/hypervisor-driver.port.js';
import { ContainerTestEnv, containerSkipReason, inside, vmSpec } from './container-test-env.js';

const skip = containerSkipReason();

function driverError(code: string, message: RegExp): (err: unknown) => boolean {
  return (err) => err instanceof DriverError && err.code === code && message.test(err.message);
}

describe('container driver: cold migration between two hosts (real containers)', { skip }, () => {
  const env = new ContainerTestEnv();
  after(() => env.cleanup());
  const a = env.driver(env.hostId('ct-ma'));
  const b = env.driver(env.hostId('ct-mb'));

  test('a stopped container moves with its files and snapshots to the target host dir, and runs there', async () => {
    const spec = vmSpec();
    await a.define(spec);
    writeFileSync(join(a.domainPaths(spec.id).rootfs, 'root', 'payload.txt'), 'moved-by-cold-migration');
    await a.snapshot(spec, 'before-move', { memory: false });

    const endpoint = await b.prepareIncoming(spec, { live: false });
    assert.deepEqual(await b.prepareIncoming(spec, { live: false }), endpoint, 'a retried prepare answers the same');
    assert.equal((await b.status(spec)).state, 'absent', 'nothing is defined on the target before the copy');
    const t0 = Date.now();
    const progress: string[] = [];
    await a.migrate(spec, endpoint, { live: false }, { onProgress: (p) => progress.push(p.message ?? '') });
    const migrateMs = Date.now() - t0;
    assert.ok(progress.includes('root filesystem copied'));
    await a.migrate(spec, endpoint, { live: false }); // a redelivered job
    assert.equal((await a.status(spec)).state, 'absent');
    assert.equal(existsSync(a.domainPaths(spec.id).vmDir), false, 'the source copy is gone');

    await b.finishIncoming(spec, { live: false });
    await b.finishIncoming(spec, { live: false });
    assert.equal((await b.status(spec)).state, 'stopped', 'it was stopped, it stays stopped');
    const target = b.domainPaths(spec.id);
    assert.ok(target.vmDir.startsWith(`${b.storageDir}/`));
    assert.notEqual(target.disk, a.domainPaths(spec.id).disk, "the target's own disk image, mounted apart");
    assert.equal(readFileSync(join(target.rootfs, 'root', 'payload.txt'), 'utf8'), 'moved-by-cold-migration');
    assert.deepEqual(
      (await b.listSnapshots(spec)).map((s) => s.name),
      ['before-move'],
    );
    await b.start(spec);
    const pid = (await b.status(spec)).pid as number;
    assert.equal(inside(pid, 'cat /root/payload.txt'), 'moved-by-cold-migration');
    assert.deepEqual(
      (await b.listDomains()).map((d) => [d.vmId, d.state]),
      [[spec.id, 'running']],
    );
    console.log(`# figure: cold migrate (copy ~2 MB rootfs + 1 snapshot) ${migrateMs} ms`);
    await b.destroy(spec);
  });

  test('a running container (direct driver call) is stopped, copied and started again on the target', async () => {
    const spec = vmSpec();
    await b.define(spec);
    await b.start(spec);
    inside((await b.status(spec)).pid as number, 'echo written-while-running > /root/live.txt');
    const endpoint = await a.prepareIncoming(spec, { live: false });
    await b.migrate(spec, endpoint, { live: false });
    assert.equal((await b.status(spec)).state, 'absent');
    await a.finishIncoming(spec, { live: false });
    const st = await a.status(spec);
    assert.equal(st.state, 'running');
    assert.equal(inside(st.pid as number, 'cat /root/live.txt').trim(), 'written-while-running');
    await a.destroy(spec);
  });

  test('abort removes only the staging dir; a bogus endpoint leaves the source untouched', async () => {
    const spec = vmSpec();
    await a.define(spec);
    const endpoint = await b.prepareIncoming(spec, { live: false });
    await assert.rejects(b.start(spec), driverError('not_found', /not defined/));
    await b.abortIncoming(spec);
    await b.abortIncoming(spec);
    assert.equal(existsSync(b.domainPaths(spec.id).incomingDir), false);
    await assert.rejects(
      a.migrate(spec, endpoint, { live: false }),
      driverError('failed', /is not a prepared incoming migration/),
    );
    await assert.rejects(
      a.migrate(spec, { ...endpoint, dir: '/tmp/../etc' }, { live: false }),
      driverError('failed', /plain absolute path/),
    );
    await assert.rejects(
      a.migrate(spec, { driver: 'qemu', mode: 'cold' }, { live: false }),
      driverError('failed', /not a container cold-migration endpoint/),
    );
    assert.equal((await a.status(spec)).state, 'stopped');
    await assert.rejects(b.finishIncoming(spec, { live: false }), driverError('not_found', /has arrived/));
    await a.destroy(spec);
  });

  test('tcp transport: the root filesystem goes as a tar stream to a token-guarded port and runs on the target', async () => {
    const tcp = env.driver(env.hostId('ct-mt'), { params: { migration: 'tcp', migrationHost: '127.0.0.1' } });
    const spec = vmSpec();
    await a.define(spec);
    writeFileSync(join(a.domainPaths(spec.id).rootfs, 'root', 'payload.txt'), 'moved-over-tcp');
    await a.snapshot(spec, 'snap-tcp', { memory: false });
    await a.start(spec);

    // A wrong token is refused by the target, and the source keeps its VM.
    const endpoint = await tcp.prepareIncoming(spec, { live: false });
    assert.equal(endpoint.transport, 'tcp');
    assert.ok(Number(endpoint.port) > 0);
    assert.deepEqual(await tcp.prepareIncoming(spec, { live: false }), endpoint, 'a retried prepare answers the same');
    await assert.rejects(
      a.migrate(spec, { ...endpoint, token: 'f'.repeat(48) }, { live: false }),
      driverError('failed', /refused the copy: ERR bad token/),
    );
    assert.equal((await a.status(spec)).state, 'stopped', 'stopped for the copy, still here');
    await a.start(spec);

    const t0 = Date.now();
    await a.migrate(spec, endpoint, { live: false });
    const tcpMs = Date.now() - t0;
    assert.equal((await a.status(spec)).state, 'absent');
    await tcp.finishIncoming(spec, { live: false });
    const st = await tcp.status(spec);
    assert.equal(st.state, 'running', 'it ran on the source, it runs on the target');
    assert.equal(inside(st.pid as number, 'cat /root/payload.txt'), 'moved-over-tcp');
    assert.deepEqual(
      (await tcp.listSnapshots(spec)).map((s) => s.name),
      ['snap-tcp'],
    );
    assert.ok(tcp.domainPaths(spec.id).vmDir.startsWith(`${tcp.storageDir}/`));
    console.log(`# figure: cold migrate over tcp (stop, tar stream, unpack) ${tcpMs} ms`);

    // The target worker restarted between prepare and migrate: the listener is gone, the source keeps its VM.
    const back = vmSpec();
    await a.define(back);
    const lost = await tcp.prepareIncoming(back, { live: false });
    await tcp.close();
    await assert.rejects(a.migrate(back, lost, { live: false }), driverError('failed', /ECONNREFUSED/));
    assert.equal((await a.status(back)).state, 'stopped');
    await tcp.abortIncoming(back);
    await a.destroy(back);
    await tcp.destroy(spec);
  });

  test('tcp receiver: a stream that is not a tar, or a header that never ends, is answered ERR and leaves no payload', async () => {
    const tcp = env.driver(env.hostId('ct-mr'), { params: { migration: 'tcp' } });
    const spec = vmSpec();
    const e = await tcp.prepareIncoming(spec, { live: false });
    const talk = (data: string): Promise<string> =>
      new Promise((resolve, reject) => {
        let answer = '';
        const s = connect({ host: String(e.host), port: Number(e.port), allowHalfOpen: true }, () => s.end(data));
        s.on('data', (d: Buffer) => (answer += d.toString()));
        s.on('end', () => resolve(answer.trim()));
        s.on('error', reject);
      });
    assert.match(await talk(`${String(e.token)}\n{"wasRunning":true}\nthis is not a tar archive`), /^ERR tar -x: /);
    assert.equal(await talk('x'.repeat(5_000)), 'ERR header too long');
    assert.equal(existsSync(join(String(e.dir), 'payload')), false);
    assert.equal(existsSync(join(String(e.dir), 'payload.part')), false);
    await assert.rejects(tcp.finishIncoming(spec, { live: false }), driverError('not_found', /has arrived/));
    await tcp.abortIncoming(spec);
    assert.equal(existsSync(String(e.dir)), false);
  });

  test('tcp receiver (issue #12): strangers cannot block the sender; a silent connection is dropped after its bound', async () => {
    const tcp = env.driver(env.hostId('ct-mq'), { params: { migration: 'tcp', migrationHeaderTimeoutMs: '500' } });
    const spec = vmSpec();
    await a.define(spec);
    writeFileSync(join(a.domainPaths(spec.id).rootfs, 'root', 'payload.txt'), 'past-the-strangers');
    const e = await tcp.prepareIncoming(spec, { live: false });
    const open = (): Promise<{ socket: Socket; closed: Promise<string> }> =>
      new Promise((resolve, reject) => {
        const socket = connect({ host: String(e.host), port: Number(e.port), allowHalfOpen: true });
        let answer = '';
        socket.on('data', (d: Buffer) => (answer += d.toString()));
        // 'end': the server has answered and closed its side (this client is half-open on purpose).
        const closed = new Promise<string>((done) => socket.on('end', () => done(answer.trim())));
        socket.once('connect', () => resolve({ socket, closed }));
        socket.once('error', reject);
      });
    // Connected first and silent (it never sends a header), and one with a wrong token that keeps
    // sending: before the fix the first claimed the receiver and the real sender got "in progress".
    const silent = await open();
    const wrong = await open();
    wrong.socket.write(`${'0'.repeat(48)}\n{"wasRunning":false}\n`);
    await a.migrate(spec, e, { live: false });
    await tcp.finishIncoming(spec, { live: false });
    assert.equal(
      readFileSync(join(tcp.domainPaths(spec.id).rootfs, 'root', 'payload.txt'), 'utf8'),
      'past-the-strangers',
    );
    assert.equal(await wrong.closed, 'ERR bad token');
    assert.match(
      await silent.closed,
      /^ERR no header within 500 ms$/,
      'the silent connection is dropped by the server',
    );
    await tcp.destroy(spec);
  });

  test('refused: a target that already has the VM, and two hosts sharing one storage dir', async () => {
    const spec = vmSpec();
    await a.define(spec);
    await b.define(spec);
    await assert.rejects(b.prepareIncoming(spec, { live: false }), driverError('conflict', /already defined/));
    await b.destroy(spec);
    const twin = env.driver(env.hostId('ct-twin'), { storage: a.storageDir.split('/').pop() });
    const endpoint = await twin.prepareIncoming(vmSpec({ id: `${spec.id}x` }), { live: false });
    await a.define(vmSpec({ id: `${spec.id}x` }));
    await assert.rejects(
      a.migrate(vmSpec({ id: `${spec.id}x` }), endpoint, { live: false }),
      driverError('conflict', /share the storage dir/),
    );
    await twin.abortIncoming(vmSpec({ id: `${spec.id}x` }));
    await a.destroy(vmSpec({ id: `${spec.id}x` }));
    await a.destroy(spec);
  });
});
