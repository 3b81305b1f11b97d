/**
 * Test-only fault injection, for the chaos suite (`npm run chaos`,
 * test/e2e/chaos-kill-api.test.ts). Never set these variables in production.
 *
 * VL_FAULT_CRASH_BEFORE_ENQUEUE=<step>: the process kills itself with SIGKILL
 * when the saga is about to put a job for that step on a queue, that is after
 * the request event is in the store and before the job reaches Redis: the
 * exact window a crash between "append" and "enqueue" leaves open.
 */
const crashStep = process.env.VL_FAULT_CRASH_BEFORE_ENQUEUE;

export function faultBeforeEnqueue(step: string): void {
  if (crashStep && crashStep === step) process.kill(process.pid, 'SIGKILL');
}
