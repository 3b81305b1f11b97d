import type { OperationView } from '../../projections/read-model.types.js';

const SETTLED_STEP: Partial<Record<OperationView['status'], string>> = {
  succeeded: 'done',
  failed: 'failed',
  cancelled: 'cancelled',
};

/**
 * A finished operation's progress says it finished. The read model keeps the
 * last step it saw, and a migration's progress report can land after the
 * operation closed (or the operation fail mid-step), leaving "migrating memory
 * (active)" on an operation that is over; the view says what a reader needs.
 * Byte counts and the percent reached are kept as they were.
 */
export function settledProgress(op: OperationView): OperationView {
  const step = SETTLED_STEP[op.status];
  if (!step || op.progress?.step === step) return op;
  return {
    ...op,
    progress: { ...op.progress, step, ...(op.status === 'succeeded' ? { percent: 100 } : {}) },
  };
}
