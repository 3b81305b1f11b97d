/**
 * The image catalog through the API: uploads streamed to IMAGE_CATALOG_DIR with their sha256,
 * the format read from the content, and every refusal (too large, checksum mismatch, not an
 * image, If-None-Match, in use, unknown image at VM create) a clear 4xx with nothing recorded
 * and no file left behind.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  createVm,
  logLength,
  registerHost,
  settledLogLength,
  startTestApp,
  TOKENS,
  waitOperation,
  type TestApp,
} from '../support/app.js';
import { tempDir } from '../support/env.js';
import { runCli } from '../support/cli.js';
import { assertError } from '../support/e2e.js';
import { putImage, qcow2, rawDisk, sha256, sshEd25519, tarOf } from '../support/image-files.js';

const MAX = 1024 * 1024;

describe('images: the catalog over HTTP', () => {
  let t: TestApp;
  const work = tempDir('vl-images-');
  let catalog = '';
  let disk: Buffer;

  before(async () => {
    t = await startTestApp({ env: { IMAGE_MAX_BYTES: String(MAX) } });
    catalog = t.config.imageCatalogDir;
    disk = qcow2(work.dir);
  });
  after(async () => {
    await t?.close();
    work.cleanup();
  });

  /** Uploads in flight or refused leave nothing in the staging dir. */
  const staged = () => (existsSync(join(catalog, '.uploads')) ? readdirSync(join(catalog, '.uploads')) : []);

  test('a qcow2 upload: 201 + Location, format from the content, sha256 of the bytes, recorded with the principal', async () => {
    const res = await putImage(t, 'base', disk);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.headers.location, '/v1/images/base');
    assert.equal(res.body.name, 'base');
    assert.equal(res.body.format, 'qcow2');
    assert.equal(res.body.sizeBytes, disk.length);
    assert.equal(res.body.sha256, sha256(disk));
    assert.match(res.body.uploadedBy, /^admin#/);
    assert.ok(existsSync(join(catalog, 'base', sha256(disk))), 'the bytes are kept by sha256');
    const events = (await t.as('auditor').get('/v1/events?limit=1000')).body.items as Array<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const uploaded = events.filter((e) => e.streamId === 'image-base');
    assert.equal(uploaded.length, 1);
    assert.equal(uploaded[0]!.type, 'ImageUploaded');
    assert.deepEqual(uploaded[0]!.data, {
      name: 'base',
      format: 'qcow2',
      sizeBytes: disk.length,
      sha256: sha256(disk),
      principal: uploaded[0]!.metadata.principal,
    });
    const one = await t.as('viewer').get('/v1/images/base');
    assert.equal(one.status, 200);
    assert.equal(one.body.sha256, sha256(disk));
    const list = await t.as('viewer').get('/v1/images');
    assert.deepEqual(
      list.body.items.map((i: { name: string }) => i.name),
      ['base'],
    );
  });

  test('the same bytes again: 200 and nothing appended; If-None-Match: * on an existing name: 412, nothing appended', async () => {
    const before = await settledLogLength(t);
    const again = await putImage(t, 'base', disk);
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(await logLength(t), before);
    const refused = await putImage(t, 'base', rawDisk(), { 'If-None-Match': '*' });
    assertError(refused, 412);
    assert.match(refused.body.message, /already exists/);
    assert.equal(await logLength(t), before);
    assert.deepEqual(readdirSync(join(catalog, 'base')), [sha256(disk)]);
  });

  test('a checksum header that does not match: 400 naming it, nothing recorded or kept; a matching one is accepted', async () => {
    const before = await settledLogLength(t);
    const bad = await putImage(t, 'checked', disk, { 'X-Checksum-Sha256': 'f'.repeat(64) });
    assertError(bad, 400, 'X-Checksum-Sha256');
    assert.match(bad.body.message, new RegExp(sha256(disk)));
    const badDigest = await putImage(t, 'checked', disk, { Digest: `sha-256=${Buffer.alloc(32).toString('base64')}` });
    assertError(badDigest, 400, 'Digest');
    assertError(await putImage(t, 'checked', disk, { 'X-Checksum-Sha256': 'nonsense' }), 400, 'X-Checksum-Sha256');
    assert.equal(await logLength(t), before);
    assert.equal(existsSync(join(catalog, 'checked')), false);
    assert.deepEqual(staged(), []);
    const digest = Buffer.from(sha256(disk), 'hex').toString('base64');
    const ok = await putImage(t, 'checked', disk, { 'Content-Digest': `sha-256=:${digest}:` });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    const ok2 = await putImage(t, 'checked2', disk, { 'X-Checksum-Sha256': sha256(disk) });
    assert.equal(ok2.status, 201, JSON.stringify(ok2.body));
  });

  test('what is not an image: 415 saying what was expected, nothing recorded, nothing kept', async () => {
    const before = await settledLogLength(t);
    const cases: Array<[string, Buffer, RegExp]> = [
      ['text', Buffer.from('hello, this is not a disk\n'), /not an image/],
      ['zeros', Buffer.alloc(4096), /not an image/],
      ['json-ish', Buffer.from('{"a":1}'), /not an image/],
      ['tar-of-notes', tarOf(work.dir, { 'notes.txt': 'hi' }), /neither vmlinuz .* nor sbin\/init/],
      ['gzip-text', tarOf(work.dir, { 'a.txt': 'x' }, true).subarray(0, 40), /gzip data that is not a tar/],
      ['qcow2-backed', qcow2(work.dir, 'over.qcow2', '/etc/hostname'), /backing file/],
    ];
    for (const [name, body, why] of cases) {
      const res = await putImage(t, name, body);
      assertError(res, 415);
      assert.match(res.body.message, why, name);
      assert.equal(existsSync(join(catalog, name)), false, name);
    }
    assert.equal(await logLength(t), before);
    assert.deepEqual(staged(), []);
  });

  test('raw disks, kernel bundles and root filesystems are recognised from their content', async () => {
    const raw = await putImage(t, 'raw1', rawDisk());
    assert.equal(raw.body.format, 'raw', JSON.stringify(raw.body));
    const kernel = await putImage(
      t,
      'kern',
      tarOf(work.dir, { vmlinuz: 'k', 'initrd.gz': 'i', cmdline: 'console=ttyS0' }, true),
    );
    assert.equal(kernel.body.format, 'kernel', JSON.stringify(kernel.body));
    const rootfs = await putImage(t, 'root', tarOf(work.dir, { 'sbin/init': '#!/bin/sh\n', 'etc/hostname': 'c' }));
    assert.equal(rootfs.body.format, 'rootfs', JSON.stringify(rootfs.body));
  });

  test('past IMAGE_MAX_BYTES: 413 up front from Content-Length, and mid-stream for a chunked upload; nothing kept', async () => {
    const before = await settledLogLength(t);
    const big = Buffer.alloc(MAX + 512);
    big[510] = 0x55;
    big[511] = 0xaa;
    const declared = await putImage(t, 'big', big);
    assertError(declared, 413);
    assert.match(declared.body.message, /IMAGE_MAX_BYTES/);
    // Chunked: no length up front; the server stops reading once past the limit and answers.
    const server = t.app.getHttpServer();
    if (!server.listening) await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as AddressInfo;
    const status = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          method: 'PUT',
          path: '/v1/images/big',
          headers: { Authorization: `Bearer ${TOKENS.admin}`, 'Content-Type': 'application/octet-stream' },
        },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      let sent = 0;
      const chunk = Buffer.alloc(64 * 1024);
      const pump = () => {
        // Far more than the limit, unless the answer comes first (it must).
        while (sent < 64 * MAX) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      req.on('response', () => (sent = Infinity));
      pump();
    });
    assert.equal(status.status, 413, status.body);
    assert.match(status.body, /IMAGE_MAX_BYTES/);
    assert.equal(await logLength(t), before);
    assert.equal(existsSync(join(catalog, 'big')), false);
    assert.deepEqual(staged(), []);
  });

  test('virtledger image import: a build-guest.sh style directory in one command, refusals as one line and exit 2', async () => {
    const server = t.app.getHttpServer();
    if (!server.listening) await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const dir = join(work.dir, 'built');
    mkdirSync(dir);
    writeFileSync(join(dir, 'vmlinuz'), 'kernel');
    writeFileSync(join(dir, 'initrd.gz'), 'initrd');
    writeFileSync(join(dir, 'cmdline'), 'console=ttyS0');
    const env = { env: { VIRTLEDGER_URL: url, VIRTLEDGER_TOKEN: TOKENS.admin } };
    const ok = await runCli(['image', 'import', 'built', dir], env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^built: kernel \d+ bytes sha256 [0-9a-f]{64}$/m);
    assert.equal((await t.as('viewer').get('/v1/images/built')).body.format, 'kernel');
    const again = await runCli(['image', 'import', '--if-absent', 'built', dir], env);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /refused \(412\).*already exists/);
    const notes = join(work.dir, 'notes.txt');
    writeFileSync(notes, 'not a disk');
    const bad = await runCli(['image', 'import', 'notes', notes], env);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /refused \(415\).*not an image/);
  });

  test('names follow the pattern; viewers and project operators may read but not upload or delete', async () => {
    assertError(await putImage(t, '.hidden', disk), 400, 'name');
    assertError(await putImage(t, 'a%2Fb', disk), 400, 'name');
    assertError(await putImage(t, 'v', disk, {}, 'viewer'), 403);
    assertError(await t.as('viewer').delete('/v1/images/base'), 403);
    // The catalog is shared by every project: a project's operator may not change it.
    const before = await settledLogLength(t);
    assertError(await putImage(t, 'tenant-img', disk, {}, 'operator'), 403, 'shared by every project');
    assertError(await t.as('operator').delete('/v1/images/base'), 403, 'shared by every project');
    assert.equal(await logLength(t), before, 'nothing appended');
    assertError(await t.as('viewer').get('/v1/images/nope'), 404);
  });

  test('a VM naming an unknown image is refused before any event, pinned host or not', async () => {
    const hostId = await registerHost(t, { name: 'sim-img' });
    const before = await settledLogLength(t);
    for (const body of [{ image: 'nope' }, { image: 'nope', hostId }]) {
      const res = await t.as('operator').post('/v1/vms', { name: 'x', vcpus: 1, memoryMiB: 64, diskGiB: 1, ...body });
      assertError(res, 400, 'image');
      assert.match(res.body.message, /names no image in the catalog/);
    }
    assert.equal(await logLength(t), before);
  });

  test('userData and sshKeys: recorded in the VM spec; bad ones refused naming the field, nothing appended', async () => {
    const hostId = await registerHost(t, { name: 'sim-userdata' });
    const key = sshEd25519();
    const vm = { name: 'ud', vcpus: 1, memoryMiB: 64, diskGiB: 1, hostId };
    const before = await settledLogLength(t);
    const lying = key.replace(/^ssh-ed25519/, 'ssh-rsa');
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ userData: 'x'.repeat(16385) }, 'userData'],
      [{ userData: '' }, 'userData'],
      [{ userData: 42 }, 'userData'],
      [{ sshKeys: 'ssh-ed25519 AAAA' }, 'sshKeys'],
      [{ sshKeys: ['not a key'] }, 'sshKeys'],
      [{ sshKeys: [`${key}\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE extra`] }, 'sshKeys'],
      [{ sshKeys: [lying] }, 'sshKeys[0]'],
      [{ sshKeys: Array.from({ length: 33 }, () => key) }, 'sshKeys'],
    ];
    for (const [extra, field] of cases) {
      assertError(await t.as('operator').post('/v1/vms', { ...vm, ...extra }), 400, field);
    }
    assert.equal(await logLength(t), before);
    const userData = '#cloud-config\nhostname: ud\n';
    const ok = await t.as('operator').post('/v1/vms', { ...vm, userData, sshKeys: [key] });
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    await waitOperation(t, ok.body.operationId as string);
    const created = (await t.as('auditor').get(`/v1/vms/${ok.body.vmId}/events`)).body.items[0];
    assert.equal(created.type, 'VmCreateRequested');
    assert.equal(created.data.spec.userData, userData);
    assert.deepEqual(created.data.spec.sshKeys, [key]);
  });

  test('delete is refused (409 naming the VM) while a VM uses the image, and frees the name once it is gone', async () => {
    const hostId = await registerHost(t, { name: 'sim-img2' });
    const { vmId, operation } = await createVm(t, { hostId, image: 'base' });
    assert.equal(operation.status, 'succeeded', JSON.stringify(operation));
    const vm = await t.as('viewer').get(`/v1/vms/${vmId}`);
    assert.equal(vm.body.image, 'base');
    const before = await settledLogLength(t);
    const refused = await t.as('admin').delete('/v1/images/base');
    assertError(refused, 409);
    assert.match(refused.body.message, new RegExp(vmId));
    const replace = await putImage(t, 'base', rawDisk());
    assertError(replace, 409);
    assert.equal(await logLength(t), before);
    assert.deepEqual(readdirSync(join(catalog, 'base')), [sha256(disk)], 'the refused bytes are not kept');

    const del = await t.as('operator').delete(`/v1/vms/${vmId}`);
    assert.equal(del.status, 202, JSON.stringify(del.body));
    await waitOperation(t, del.body.operationId as string);
    const gone = await t.as('admin').delete('/v1/images/base');
    assert.equal(gone.status, 204, JSON.stringify(gone.body));
    assertError(await t.as('viewer').get('/v1/images/base'), 404);
    assert.equal(existsSync(join(catalog, 'base')), false, 'the files go with the image');
    const again = await t.as('admin').delete('/v1/images/base');
    assert.equal(again.status, 204, 'already deleted: nothing to do');
    assertError(await t.as('admin').delete('/v1/images/never'), 404);
    const names = (await t.as('viewer').get('/v1/images')).body.items.map((i: { name: string }) => i.name);
    assert.equal(names.includes('base'), false);
  });
});
