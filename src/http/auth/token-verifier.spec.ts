import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenVerifier } from './token-verifier.js';

const v = new TokenVerifier([
  { role: 'viewer', token: 'viewer-token-0123456789' },
  { role: 'operator', token: 'operator-token-0123456789' },
]);

test('verifyFor answers as verify, for each request and each token it carries', () => {
  const req = {};
  assert.equal(v.verifyFor(req, 'viewer-token-0123456789')?.role, 'viewer');
  assert.equal(v.verifyFor(req, 'viewer-token-0123456789')?.role, 'viewer');
  // Another token on the same request object is verified, not taken from the first.
  assert.equal(v.verifyFor(req, 'operator-token-0123456789')?.role, 'operator');
  assert.equal(v.verifyFor(req, 'not-a-token-0123456789'), undefined);
  assert.equal(v.verifyFor({}, 'operator-token-0123456789')?.role, 'operator');
  assert.equal(v.verifyFor({}, 'not-a-token-0123456789'), undefined);
});
