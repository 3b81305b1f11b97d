import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fold } from '../decider.js';
import { consoleDecider, decideConsole } from './console.decider.js';
import type { ConsoleEvent } from './console.events.js';

const open = {
  type: 'OpenConsole',
  vmId: 'v',
  sessionId: 's1',
  principal: 'operator#1',
  mode: 'read-write',
  hostId: 'h',
} as const;
const close = { type: 'CloseConsole', vmId: 'v', sessionId: 's1', principal: 'operator#1', reason: 'bye' } as const;

describe('console decider', () => {
  test('open then close records both, with the principal', () => {
    const opened = decideConsole(open, consoleDecider.initialState());
    assert.deepEqual(opened, [
      {
        type: 'ConsoleOpened',
        data: { vmId: 'v', sessionId: 's1', principal: 'operator#1', mode: 'read-write', hostId: 'h' },
      },
    ]);
    const state = fold(consoleDecider, opened);
    assert.deepEqual(state.open, ['s1']);
    const closed = decideConsole(close, state);
    assert.deepEqual(closed, [
      { type: 'ConsoleClosed', data: { vmId: 'v', sessionId: 's1', principal: 'operator#1', reason: 'bye' } },
    ]);
    assert.deepEqual(fold(consoleDecider, [...opened, ...closed] as ConsoleEvent[]).open, []);
  });

  test('an open already open and a close already closed are already done', () => {
    const state = fold(consoleDecider, decideConsole(open, consoleDecider.initialState()));
    assert.deepEqual(decideConsole(open, state), []);
    assert.deepEqual(decideConsole(close, consoleDecider.initialState()), []);
  });
});
