import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SSH_KEY_PATTERN, sshKeyProblem } from './patterns.js';

const blob = (type: string) => {
  const t = Buffer.from(type);
  return Buffer.concat([Buffer.from([0, 0, 0, t.length]), t, Buffer.alloc(36, 7)]).toString('base64');
};
const decode = (b64: string) => Buffer.from(b64, 'base64');

describe('ssh public keys', () => {
  test('one line of a known type, base64, and an optional comment', () => {
    assert.match(`ssh-ed25519 ${blob('ssh-ed25519')} me@host`, SSH_KEY_PATTERN);
    assert.doesNotMatch(`ssh-ed25519 ${blob('ssh-ed25519')}\nssh-rsa AAAA`, SSH_KEY_PATTERN);
    assert.doesNotMatch(`ssh-foo ${blob('ssh-foo')}`, SSH_KEY_PATTERN);
  });

  test('the key data must name the type the line claims', () => {
    assert.equal(sshKeyProblem(`ssh-ed25519 ${blob('ssh-ed25519')}`, decode), undefined);
    assert.match(sshKeyProblem(`ssh-rsa ${blob('ssh-ed25519')}`, decode)!, /is a "ssh-ed25519" key, not ssh-rsa/);
  });
});
