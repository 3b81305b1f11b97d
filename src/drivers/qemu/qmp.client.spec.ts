import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { FakeQmp, QMP_GREETING, qmpReply, type QmpRequest } from '../../../test/support/fake-qmp.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  connectRetryMs,
  QmpClient,
  QmpClosedError,
  QmpError,
  QmpJobError,
  QmpProtocolError,
  QmpTimeoutError,
} from './qmp.client.js';
import { runQmpJob } from './qmp-jobs.js';
import type { QmpStatusInfo } from './qmp.types.js';

describe('QmpClient', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vl-qmp-'));
  const fakes: FakeQmp[] = [];
  after(() => {
    for (const f of fakes) f.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const fake = async (
    onRequest: (req: QmpRequest, socket: Socket) => void,
    greeting?: (socket: Socket) => void,
  ): Promise<FakeQmp> => {
    const f = await new FakeQmp(dir, onRequest, greeting ? { greeting } : {}).listen();
    fakes.push(f);
    return f;
  };

  test('(fake QMP server) frames split anywhere, several per chunk, events interleaved, UTF-8 split mid-character', async () => {
    const f = await fake(
      (req, socket) => {
        const full =
          '{"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 2}}\r\n' +
          qmpReply(req, '"return": {"status": "paused", "running": false, "note": "é✓"}');
        const bytes = Buffer.from(full, 'utf8');
        const cut = bytes.indexOf(Buffer.from('✓', 'utf8')) + 1; // inside the 3-byte character
        socket.write(bytes.subarray(0, cut));
        setTimeout(() => socket.write(bytes.subarray(cut)), 20);
      },
      (socket) => {
        socket.write(QMP_GREETING.slice(0, 10));
        setTimeout(() => socket.write(`${QMP_GREETING.slice(10)}\r\n`), 20);
      },
    );
    const client = await QmpClient.connect(f.path);
    assert.equal(client.greeting.QMP.version.qemu.major, 7);
    const events: string[] = [];
    client.onEvent((e) => events.push(e.event));
    const status = await client.execute<QmpStatusInfo & { note: string }>('query-status');
    assert.equal(status.status, 'paused');
    assert.equal(status.note, 'é✓');
    assert.deepEqual(events, ['STOP']);
    client.close();
  });

  test('(fake QMP server) an error reply is a QmpError with QEMU’s class and desc', async () => {
    const f = await fake((req, socket) =>
      socket.write(qmpReply(req, '"error": {"class": "DeviceNotFound", "desc": "Device \'nope\' not found"}')),
    );
    const client = await QmpClient.connect(f.path);
    await assert.rejects(client.execute('block_resize', { device: 'nope' }), (err: unknown) => {
      assert.ok(err instanceof QmpError);
      assert.equal(err.errorClass, 'DeviceNotFound');
      assert.equal(err.desc, "Device 'nope' not found");
      assert.equal(err.command, 'block_resize');
      return true;
    });
    client.close();
  });

  test('(fake QMP server) replies are matched by id even out of order; a reply without id goes to the oldest', async () => {
    const held: Array<[QmpRequest, Socket]> = [];
    const f = await fake((req, socket) => {
      if (req.execute === 'parse-me') {
        socket.write('{"error": {"class": "GenericError", "desc": "JSON parse error"}}\r\n');
        return;
      }
      held.push([req, socket]);
      if (held.length === 2) {
        for (const [r, s] of held.reverse()) s.write(qmpReply(r, `"return": ${JSON.stringify(r.execute)}`));
      }
    });
    const client = await QmpClient.connect(f.path);
    const [first, second] = await Promise.all([client.execute<string>('one'), client.execute<string>('two')]);
    assert.equal(first, 'one');
    assert.equal(second, 'two');
    await assert.rejects(client.execute('parse-me'), /JSON parse error/);
    client.close();
  });

  test('a refused connect is retried within a millisecond, then backing off to the missing socket’s 20 ms', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5, 6, 50].map((n) => connectRetryMs('refused', n)),
      [1, 2, 4, 8, 16, 20, 20, 20],
    );
    assert.equal(connectRetryMs('missing', 0), 20);
  });

  test('(fake QMP server) the last 16 events are kept, oldest first, in the order QEMU sent them', async () => {
    const f = await fake((req, socket) => socket.write(qmpReply(req, '"return": {}')));
    const client = await QmpClient.connect(f.path);
    assert.equal(client.recentEvents.length, 0);
    await client.execute('query-status'); // negotiation over: events reach the client from here
    const last = client.waitForEvent('E20');
    for (let n = 1; n <= 20; n++) f.event(`E${n}`, { n });
    await last;
    assert.deepEqual(
      client.recentEvents.map((e) => e.event),
      Array.from({ length: 16 }, (_, i) => `E${i + 5}`),
    );
    client.close();
  });

  test('(fake QMP server) a command timeout rejects that command only; its late reply is dropped', async () => {
    // The server holds the slow command's reply until the next command arrives (after the client gave
    // up on the slow one: the requests come in order on one socket), then sends it just before that
    // command's: the late reply is read first. Each reply names its command.
    let late: (() => void) | undefined;
    const f = await fake((req, socket) => {
      const answer = () => socket.write(qmpReply(req, `"return": ${JSON.stringify(req.execute)}`));
      if (req.execute === 'slow') late = answer;
      else {
        late?.();
        answer();
      }
    });
    const client = await QmpClient.connect(f.path);
    await assert.rejects(client.execute('slow', undefined, { timeoutMs: 50 }), QmpTimeoutError);
    assert.equal(await client.execute('fast'), 'fast', "the late reply is dropped, not taken for the next command's");
    client.close();
  });

  test('(fake QMP server) a non-JSON line fails pending commands with QmpProtocolError and closes', async () => {
    const f = await fake((_req, socket) => socket.write('this is not qmp\r\n'));
    const client = await QmpClient.connect(f.path);
    await assert.rejects(client.execute('anything'), QmpProtocolError);
    assert.equal(client.closed, true);
    await assert.rejects(client.execute('later'), QmpClosedError);
  });

  test('(fake QMP server) the server hanging up fails pending commands and waiters with QmpClosedError', async () => {
    const f = await fake((_req, socket) => setTimeout(() => socket.destroy(), 10));
    const client = await QmpClient.connect(f.path);
    const waiter = client.waitForEvent('SHUTDOWN', () => true, 5_000);
    await assert.rejects(client.execute('quit'), QmpClosedError);
    await assert.rejects(waiter, QmpClosedError);
  });

  test('(fake QMP server) HMP text starting with "Error:" inside a successful return is a QmpError', async () => {
    const f = await fake((req, socket) => {
      const line = String(req.arguments?.['command-line']);
      const text = line.startsWith('savevm') ? 'Error: no block device can store vmstate for snapshot\r\n' : 'ok\r\n';
      socket.write(qmpReply(req, `"return": ${JSON.stringify(text)}`));
    });
    const client = await QmpClient.connect(f.path);
    assert.equal(await client.hmp('info status'), 'ok\r\n');
    await assert.rejects(client.hmp('savevm x'), (err: unknown) => {
      assert.ok(err instanceof QmpError);
      assert.equal(err.errorClass, 'HmpError');
      assert.equal(err.desc, 'no block device can store vmstate for snapshot');
      return true;
    });
    client.close();
  });

  test('(fake QMP server) connect retries until the socket exists, and gives up on a server that never greets', async () => {
    const later = join(dir, 'late.sock');
    // The client below hangs up right after connecting, before this answers its qmp_capabilities.
    const server = createServer((s) => s.write(`${QMP_GREETING}\n`)).on('connection', (s) =>
      s
        .on('error', () => undefined)
        .on('data', (d) => {
          const req = JSON.parse(String(d)) as QmpRequest;
          s.write(qmpReply(req, '"return": {}'));
        }),
    );
    setTimeout(() => server.listen(later), 100);
    const client = await QmpClient.connect(later, { connectTimeoutMs: 3_000 });
    client.close();
    server.close();

    const mute = await fake(
      () => undefined,
      () => undefined,
    );
    await assert.rejects(QmpClient.connect(mute.path, { connectTimeoutMs: 200 }), /no QMP greeting/);
    await assert.rejects(QmpClient.connect(join(dir, 'missing.sock'), { connectTimeoutMs: 100 }), QmpTimeoutError);
  });

  /** A server that answers `qmp_capabilities` only as `answer` says, after the request that follows it. */
  const negotiating = (answer: 'ok' | 'error' | 'never', seen: string[]): Promise<FakeQmp> => {
    let caps: QmpRequest | undefined;
    const server = new FakeQmp(
      dir,
      (req, s) => {
        seen.push(req.execute);
        if (req.execute === 'qmp_capabilities') {
          caps = req;
          return;
        }
        if (caps && answer === 'never') return;
        if (caps && answer === 'error') {
          s.write(qmpReply(caps, '"error": {"class": "GenericError", "desc": "negotiation refused"}'));
          s.write(qmpReply(req, '"error": {"class": "CommandNotFound", "desc": "Expecting capabilities negotiation"}'));
        } else {
          if (caps) s.write(qmpReply(caps, '"return": {}'));
          s.write(qmpReply(req, '"return": {"status": "running", "running": true}'));
        }
        caps = undefined;
      },
      { passCapabilities: true },
    );
    return server.listen();
  };

  test('(fake QMP server) connect does not wait for the capabilities answer: the first command follows it at once, in order', async () => {
    const seen: string[] = [];
    const srv = await negotiating('ok', seen);
    // This server answers qmp_capabilities only once the next request arrived: a connect that
    // waited for that answer would never return.
    const client = await QmpClient.connect(srv.path, { connectTimeoutMs: 2_000 });
    const status = await client.execute<QmpStatusInfo>('query-status');
    assert.equal(status.status, 'running');
    assert.deepEqual(seen, ['qmp_capabilities', 'query-status']);
    client.close();
    srv.close();
  });

  test('(fake QMP server) a refused negotiation closes the client and fails the commands sent behind it', async () => {
    const srv = await negotiating('error', []);
    const client = await QmpClient.connect(srv.path, { connectTimeoutMs: 2_000 });
    // QEMU refuses what follows a failed negotiation itself; the client then closes with the reason.
    const closed = new Promise<Error>((resolve) => client.onClose(resolve));
    await assert.rejects(client.execute('query-status'), /Expecting capabilities negotiation/);
    assert.match((await closed).message, /capabilities negotiation failed: qmp_capabilities: negotiation refused/);
    assert.equal(client.closed, true);
    await assert.rejects(client.execute('query-status'), QmpClosedError);
    srv.close();
  });

  test('(fake QMP server) a negotiation never answered fails the commands behind it as a timeout', async () => {
    const srv = await negotiating('never', []);
    const client = await QmpClient.connect(srv.path, { connectTimeoutMs: 200 });
    await assert.rejects(client.execute('query-status', undefined, { timeoutMs: 30_000 }), (err: unknown) => {
      assert.ok(err instanceof QmpTimeoutError, String(err));
      assert.match(err.message, /qmp_capabilities: no reply/);
      return true;
    });
    assert.equal(client.closed, true);
    srv.close();
  });
});

describe('QmpClient against a real qemu-system-x86_64', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vl-qmp-real-'));
  const sock = join(dir, 'qmp.sock');
  let qemu: ChildProcess;
  let client: QmpClient;
  let greetingMs = 0;

  before(async () => {
    const t0 = Date.now();
    qemu = spawn(
      'qemu-system-x86_64',
      ['-accel', 'tcg', '-m', '32', '-nodefaults', '-display', 'none', '-qmp', `unix:${sock},server=on,wait=off`],
      { stdio: 'ignore' },
    );
    client = await QmpClient.connect(sock);
    greetingMs = Date.now() - t0;
  });
  after(() => {
    client?.close();
    qemu?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  test('greeting, typed results, QmpError for an unknown command, STOP/RESUME events', async () => {
    assert.ok(greetingMs < 5_000, `greeting took ${greetingMs} ms`);
    assert.equal(typeof client.greeting.QMP.version.qemu.major, 'number');
    assert.equal((await client.execute<QmpStatusInfo>('query-status')).status, 'running');
    await assert.rejects(client.execute('no-such-command'), (err: unknown) => {
      assert.ok(err instanceof QmpError);
      assert.equal(err.errorClass, 'CommandNotFound');
      return true;
    });
    const stopped = client.waitForEvent('STOP');
    await client.execute('stop');
    await stopped;
    const resumed = client.waitForEvent('RESUME');
    await client.execute('cont');
    await resumed;
  });

  test('HMP errors and job errors from QEMU itself surface with QEMU’s words', async () => {
    await assert.rejects(client.hmp('savevm x'), /no block device can store vmstate for snapshot/);
    assert.match(await client.hmp('info status'), /running/);
    await assert.rejects(
      runQmpJob(client, 'snapshot-save', { tag: 't', vmstate: 'nope', devices: [] }, { timeoutMs: 5_000 }),
      (err: unknown) => {
        assert.ok(err instanceof QmpJobError);
        assert.match(err.desc, /At least one device is required for snapshot/);
        return true;
      },
    );
    const jobs = await client.execute<unknown[]>('query-jobs');
    assert.deepEqual(jobs, [], 'the failed job must have been dismissed');
  });
});
