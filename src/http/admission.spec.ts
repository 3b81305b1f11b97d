import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isLongRunning } from './admission.js';

describe('admission: what is not counted in flight', () => {
  test('the live feed and operation long-polls wait rather than work', () => {
    assert.equal(isLongRunning('GET', '/v1/events/stream'), true);
    assert.equal(isLongRunning('GET', '/v1/events/stream?type=VmCreated'), true);
    assert.equal(isLongRunning('GET', '/v1/operations/abc?waitMs=30000'), true);
    assert.equal(isLongRunning('GET', '/v1/operations/abc?x=1&waitMs=5'), true);
  });

  test('everything else is counted: reads, a long-poll of no time, commands, look-alike paths', () => {
    assert.equal(isLongRunning('GET', '/v1/vms'), false);
    assert.equal(isLongRunning('GET', '/v1/operations/abc?waitMs=0'), false);
    assert.equal(isLongRunning('GET', '/v1/events'), false);
    assert.equal(isLongRunning('GET', '/v1/events/streamx'), false);
    assert.equal(isLongRunning('GET', '/v1/vms?name=waitMs=5'), false);
    assert.equal(isLongRunning('POST', '/v1/operations/abc?waitMs=100'), false);
    assert.equal(isLongRunning('POST', '/v1/events/stream'), false);
  });
});
