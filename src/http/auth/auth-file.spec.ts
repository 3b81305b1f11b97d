import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { AuthFileError, parseUsers } from './auth-file.js';
import { TokenVerifier } from './token-verifier.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('AUTH_FILE users', () => {
  test('users map to principals named after them, with their projects; tokens are matched by digest', () => {
    const users = parseUsers(
      {
        users: [
          { name: 'alice', role: 'operator', projects: ['team-a'], tokenSha256: sha('alice-secret-token') },
          { name: 'root', role: 'admin', projects: ['x'], tokenSha256: sha('root-secret-token').toUpperCase() },
          { name: 'audit', role: 'auditor', tokenSha256: sha('audit-secret-token') },
        ],
      },
      'users.json',
    );
    const v = new TokenVerifier([{ role: 'viewer', token: 'viewer-token-0123456789' }, ...users]);
    assert.deepEqual(v.verify('alice-secret-token'), {
      role: 'operator',
      id: 'alice',
      name: 'alice',
      projects: ['team-a'],
    });
    assert.equal(v.verify('root-secret-token')?.projects, 'all', 'an admin always sees all');
    assert.equal(v.verify('audit-secret-token')?.projects, 'all', 'an auditor without projects sees all');
    assert.deepEqual(v.verify('viewer-token-0123456789')?.projects, ['default'], 'AUTH_TOKENS: default project');
    assert.equal(v.verify(sha('alice-secret-token')), undefined, 'the digest itself is not a token');
  });

  test('every problem is named with the user it is in', () => {
    const bad = {
      users: [
        { name: 'a b', role: 'operator', projects: ['p'], tokenSha256: sha('x') },
        { name: 'b', role: 'root', projects: ['p'], tokenSha256: sha('x') },
        { name: 'c', role: 'viewer', projects: ['../p'], tokenSha256: 'abc' },
        { name: 'd', role: 'viewer', projects: ['p'], tokenSha256: sha('x') },
        { name: 'd', role: 'viewer', projects: ['p'], tokenSha256: sha('y') },
      ],
    };
    assert.throws(
      () => parseUsers(bad, 'users.json'),
      (err: Error) => {
        assert.ok(err instanceof AuthFileError);
        for (const p of [
          'users[0].name',
          'users[1].role',
          'users[2].projects',
          'users[2].tokenSha256',
          'users[4].name: d appears twice',
        ])
          assert.ok(err.message.includes(p), `${p} in ${err.message}`);
        return true;
      },
    );
    assert.throws(() => parseUsers({ people: [] }, 'users.json'), /expected \{"users": \[...\]\}/);
  });
});
