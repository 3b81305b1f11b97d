/** The load scenario's count of what the server warned about, from its pino output. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { warningCounts } from '../../chaos/support/server-warnings.js';

describe('load: server warnings by message', () => {
  test('counts warn and above by message; info, plain text and a cut-off last line are left out', () => {
    const out = [
      '{"level":30,"msg":"virtledger listening"}',
      '{"level":40,"lease":"k","msg":"lease lost; stopping the roles it guards"}',
      'Debugger listening on ws://127.0.0.1:9229/x',
      '{"level":40,"msg":"lease lost; stopping the roles it guards"}',
      '{"level":50,"msg":"request failed"}',
      '{"level":60}',
      '{"level":40,"msg":"projection wri',
    ].join('\n');
    assert.deepEqual(warningCounts(out), {
      'lease lost; stopping the roles it guards': 2,
      'request failed': 1,
      '(no message)': 1,
    });
  });
});
