import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { UnavailableError } from '../eventstore/errors.js';
import { toErrorBody } from './error.filter.js';

describe('toErrorBody: an unavailable store', () => {
  test('refused before the commit: 503 saying nothing was recorded', () => {
    const body = toErrorBody(new UnavailableError('PostgreSQL event store append unavailable (ECONNREFUSED)'));
    assert.equal(body.statusCode, 503);
    assert.match(body.message, /nothing was recorded, retry later/);
  });

  test('lost during the commit: 503 that says the command may have been recorded and how to check', () => {
    const body = toErrorBody(
      new UnavailableError('PostgreSQL connection lost during COMMIT', { outcomeUnknown: true }),
    );
    assert.equal(body.statusCode, 503);
    assert.doesNotMatch(body.message, /nothing was recorded/);
    assert.match(body.message, /may have been recorded/);
    assert.match(body.message, /GET \/v1\/operations/);
  });
});
