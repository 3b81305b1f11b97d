import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { logFormat } from './logger.js';

describe('logger format', () => {
  test('a terminal gets pretty lines when pino-pretty is installed', () => {
    assert.equal(
      logFormat(true, () => true),
      'pretty',
    );
  });

  test('a pipe, a file or a container log gets JSON lines', () => {
    assert.equal(
      logFormat(false, () => true),
      'json',
    );
    assert.equal(
      logFormat(undefined, () => true),
      'json',
    );
  });

  test('a terminal without pino-pretty installed falls back to JSON instead of failing to start', () => {
    assert.equal(
      logFormat(true, () => false),
      'json',
    );
  });
});
