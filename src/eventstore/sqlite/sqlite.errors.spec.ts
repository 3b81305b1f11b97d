import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { UnavailableError } from '../errors.js';
import { isSqliteBusy, mapSqliteError } from './sqlite.errors.js';

const sqliteError = (code: string, message = 'x'): Error => Object.assign(new Error(message), { code });

describe('mapSqliteError', () => {
  test('lock and disk failures become UnavailableError with a readable reason', () => {
    const cases: Array<[string, RegExp]> = [
      ['SQLITE_BUSY', /locked/],
      ['SQLITE_LOCKED', /locked/],
      ['SQLITE_FULL', /disk is full/],
      ['SQLITE_IOERR_WRITE', /I\/O/],
      ['SQLITE_CANTOPEN', /cannot be opened/],
      ['SQLITE_READONLY_DBMOVED', /read-only/],
      ['ENOSPC', /disk is full/],
    ];
    for (const [code, reason] of cases) {
      const mapped = mapSqliteError(sqliteError(code), '/data/events.sqlite3');
      assert.ok(mapped instanceof UnavailableError, code);
      assert.match(mapped.message, reason);
      assert.match(mapped.message, /\/data\/events\.sqlite3/);
    }
  });

  test('other errors pass through untouched', () => {
    const constraint = sqliteError('SQLITE_CONSTRAINT_UNIQUE');
    assert.equal(mapSqliteError(constraint, 'f'), constraint);
    const plain = new TypeError('bug');
    assert.equal(mapSqliteError(plain, 'f'), plain);
  });

  test('only BUSY/LOCKED are retried', () => {
    assert.ok(isSqliteBusy(sqliteError('SQLITE_BUSY_SNAPSHOT')));
    assert.ok(!isSqliteBusy(sqliteError('SQLITE_FULL')));
  });
});
