import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { LOG_ROW_TYPES } from './postgres.log-read.js';

const INT8 = 20;
const JSONB = 3802;
const TEXT = 25;

describe('LOG_ROW_TYPES (parsers of the log pages)', () => {
  test('bigint columns become BigInt, exact past 2^53 (positions are transaction ids shifted by 16 bits)', () => {
    const parse = LOG_ROW_TYPES.getTypeParser(INT8, 'text');
    assert.equal(parse('9007199254740993'), 9007199254740993n);
    assert.equal(parse('-1'), -1n);
  });

  test('every other type is parsed as node-postgres parses it', () => {
    assert.deepEqual(LOG_ROW_TYPES.getTypeParser(JSONB, 'text')('{"a": [1, "x"]}'), { a: [1, 'x'] });
    assert.equal(LOG_ROW_TYPES.getTypeParser(TEXT, 'text'), pg.types.getTypeParser(TEXT, 'text'));
    assert.equal(LOG_ROW_TYPES.getTypeParser(INT8, 'binary'), pg.types.getTypeParser(INT8, 'binary'));
  });
});
