import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { UnavailableError } from '../errors.js';
import { isUniqueViolation, mapPgError } from './postgres.errors.js';
import { parsePostgresUrl } from './postgres.event-store.js';

const withCode = (code: string, message = 'x'): Error => Object.assign(new Error(message), { code });

describe('mapPgError', () => {
  test('refused, terminated and shutting-down connections become UnavailableError', () => {
    const unreachable: unknown[] = [
      withCode('ECONNREFUSED'),
      withCode('57P01', 'terminating connection due to administrator command'),
      withCode('57P03', 'the database system is starting up'),
      withCode('08006'),
      withCode('53300'),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
      new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')], 'connect'),
    ];
    for (const err of unreachable) assert.ok(mapPgError(err, 'append') instanceof UnavailableError, String(err));
  });

  test('query errors pass through; 23505 is recognised as a unique violation', () => {
    const syntax = withCode('42601');
    assert.equal(mapPgError(syntax, 'append'), syntax);
    assert.ok(isUniqueViolation(withCode('23505')));
    assert.ok(!isUniqueViolation(syntax));
  });

  test('?schema= is taken off the URL before it reaches the driver', () => {
    assert.deepEqual(parsePostgresUrl('postgres://u@h:5432/db?schema=s1&sslmode=disable'), {
      connectionString: 'postgres://u@h:5432/db?sslmode=disable',
      schema: 's1',
    });
  });
});
