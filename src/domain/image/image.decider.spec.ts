import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { given } from '../../../test/support/decider-spec.js';
import type { ImageCommand } from './image.commands.js';
import { imageDecider } from './image.decider.js';
import type { ImageEvent } from './image.events.js';

const SHA_A = 'a'.repeat(64);
const SHA_B = 'b'.repeat(64);
const uploaded = (sha256 = SHA_A, principal = 'alice'): ImageEvent => ({
  type: 'ImageUploaded',
  data: { name: 'guest', format: 'qcow2', sizeBytes: 1024, sha256, principal },
});
const deleted: ImageEvent = { type: 'ImageDeleted', data: { name: 'guest', principal: 'bob' } };
const upload = (sha256 = SHA_A, extra: Partial<Extract<ImageCommand, { type: 'UploadImage' }>> = {}): ImageCommand => ({
  type: 'UploadImage',
  name: 'guest',
  format: 'qcow2',
  sizeBytes: 1024,
  sha256,
  principal: 'alice',
  onlyIfAbsent: false,
  usedBy: [],
  ...extra,
});
const del = (usedBy: string[] = []): ImageCommand => ({ type: 'DeleteImage', name: 'guest', principal: 'bob', usedBy });
const image = (history: ImageEvent[]) => given(imageDecider, history);

describe('image decider: upload', () => {
  test('a new name: ImageUploaded with format, size, sha256 and principal', () => {
    const s = image([]).when(upload()).then([uploaded()]);
    assert.equal(s.exists, true);
    assert.equal(s.sha256, SHA_A);
    assert.equal(s.uploadedBy, 'alice');
  });

  test('the same bytes again → nothing (already done)', () => {
    image([uploaded()]).when(upload()).thenNothing();
  });

  test('new bytes replace the old ones when no VM uses the image', () => {
    const s = image([uploaded()])
      .when(upload(SHA_B))
      .then([uploaded(SHA_B)]);
    assert.equal(s.uploads, 2);
  });

  test('If-None-Match: * on an existing image → conflict marked as a precondition, even with the same bytes', () => {
    const err = image([uploaded()])
      .when(upload(SHA_A, { onlyIfAbsent: true }))
      .thenThrows('conflict', /already exists/);
    assert.deepEqual(err.details, { precondition: 'If-None-Match' });
  });

  test('If-None-Match: * after a delete: the name is free again', () => {
    image([uploaded(), deleted])
      .when(upload(SHA_B, { onlyIfAbsent: true }))
      .then([uploaded(SHA_B)]);
  });

  test('replacing bytes a VM uses → conflict naming the VM', () => {
    image([uploaded()])
      .when(upload(SHA_B, { usedBy: ['vm-1'] }))
      .thenThrows('conflict', /cannot be replaced: VMs use it \(vm-1\)/);
  });
});

describe('image decider: delete', () => {
  test('an unused image → ImageDeleted', () => {
    const s = image([uploaded()]).when(del()).then([deleted]);
    assert.equal(s.exists, false);
  });

  test('in use → conflict naming the VMs, nothing decided', () => {
    const err = image([uploaded()])
      .when(del(['vm-1', 'vm-2']))
      .thenThrows('conflict', /cannot be deleted: VMs use it \(vm-1, vm-2\)/);
    assert.deepEqual(err.details, { usedBy: ['vm-1', 'vm-2'] });
  });

  test('already deleted → nothing; never uploaded → not_found', () => {
    image([uploaded(), deleted]).when(del()).thenNothing();
    image([])
      .when(del())
      .thenThrows('not_found', /image guest not found/);
  });
});
