/** The load scenario's count of what the server warned about, and its lag figure without the heap samples. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { lagMs } from '../../chaos/support/load-figures.js';
import { warningCounts, warningTimes } from '../../chaos/support/server-warnings.js';

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

  test('times of one message from the run start, each placed against the heap samples it fell in', () => {
    const lost = 'lease lost; stopping the roles it guards';
    const out = [
      `{"level":40,"time":1000,"msg":"${lost}"}`,
      `{"level":40,"time":12500,"msg":"${lost}"}`,
      '{"level":40,"time":13000,"msg":"request failed"}',
      `{"level":40,"time":30000,"msg":"${lost}"}`,
      `{"level":40,"msg":"${lost}"}`,
    ].join('\n');
    assert.deepEqual(
      warningTimes(out, lost, 500, [
        [10_000, 15_000],
        [29_000, 31_000],
      ]),
      ['0.5 s', '12.0 s (in heap sample 1)', '29.5 s (in heap sample 2)'],
    );
  });
});

describe('load: projection lag with the heap samples left out', () => {
  test('a head seen or reached while the loop was stopped is left out; one never reached is counted apart', () => {
    const samples = [
      { t: 0, head: 10n, applied: 5n },
      { t: 250, head: 12n, applied: 10n },
      { t: 3500, head: 20n, applied: 12n },
      { t: 3750, head: 20n, applied: 20n },
      { t: 4000, head: 25n, applied: 20n },
    ];
    assert.deepEqual(lagMs(samples), { lags: [250, 3250, 250, 0], neverReached: 1 });
    const pause = [300, 3400];
    const outside = (from: number, to: number) => !(from < pause[1]! && to > pause[0]!);
    assert.deepEqual(lagMs(samples, outside), { lags: [250, 250, 0], neverReached: 1 });
  });
});
