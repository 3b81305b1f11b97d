import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cancelMigration, type QmpExecutor } from './migration-cancel.js';
import type { QmpMigrationInfo } from './qmp.types.js';

/** Answers `query-migrate` from a script (the last answer repeats) and records every command. */
function scripted(answers: QmpMigrationInfo[]): QmpExecutor & { commands: string[] } {
  const commands: string[] = [];
  let i = 0;
  return {
    commands,
    execute<T>(command: string): Promise<T> {
      commands.push(command);
      if (command !== 'query-migrate') return Promise.resolve({} as T);
      const answer = answers[Math.min(i++, answers.length - 1)];
      return Promise.resolve(answer as T);
    },
  };
}

describe('cancelMigration: QEMU, not the caller, decides how a cancelled migration ended', () => {
  test('cancelling, then cancelled: the source keeps the guest', async () => {
    const qmp = scripted([{ status: 'cancelling' }, { status: 'cancelling' }, { status: 'cancelled' }]);
    assert.equal(await cancelMigration(qmp, 5_000), 'cancelled');
    assert.equal(qmp.commands[0], 'migrate_cancel');
  });

  test('completed before the cancel reached QEMU: too late, the migration succeeded', async () => {
    const qmp = scripted([{ status: 'completed' }]);
    assert.equal(await cancelMigration(qmp, 5_000), 'completed');
  });

  test('no migration started yet (QEMU answers {}): none', async () => {
    assert.equal(await cancelMigration(scripted([{}]), 5_000), 'none');
  });

  test('stuck in cancelling past the settle time: unknown, never guessed', async () => {
    assert.equal(await cancelMigration(scripted([{ status: 'cancelling' }]), 0), undefined);
  });
});
