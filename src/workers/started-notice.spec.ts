import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { StartedNotice } from './started-notice.js';

describe('StartedNotice', () => {
  test('quiet within its delay until started goes out; never quiet without a delay', async () => {
    const posted: string[] = [];
    const post = () => {
      posted.push('started');
      return Promise.resolve();
    };
    const slow = new StartedNotice(post, 60_000, () => undefined);
    assert.equal(slow.quiet(), false, 'not quiet before the step began');
    await slow.begin();
    assert.equal(slow.quiet(), true, 'a progress report now would say nothing the outcome will not');
    assert.equal(await slow.now(), true);
    assert.equal(slow.quiet(), false, 'started went out: progress reports follow it');
    slow.dispose();

    const immediate = new StartedNotice(post, 0, () => undefined);
    await immediate.begin();
    assert.equal(immediate.quiet(), false);
    assert.deepEqual(posted, ['started', 'started']);
  });

  test('a fast step carries started in its outcome and never posted it alone', async () => {
    let posts = 0;
    const notice = new StartedNotice(
      () => {
        posts++;
        return Promise.resolve();
      },
      60_000,
      () => undefined,
    );
    await notice.begin();
    assert.equal(notice.quiet(), true);
    assert.equal(await notice.settle(), true, 'the outcome carries started');
    assert.equal(posts, 0);
  });
});
