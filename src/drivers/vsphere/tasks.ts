import { setTimeout as sleep } from 'node:timers/promises';
import { DriverError, type CallContext } from '../hypervisor-driver.port.js';
import { child, textOf, xsiType, type XmlNode } from './xml.js';
import { moOf, type MoRef, type SoapClient } from './soap-client.js';
import { propertiesOf } from './properties.js';

/** A vSphere task that ended in error: VMware's own message and fault type. */
export class TaskFailed extends Error {
  override readonly name = 'TaskFailed';
  constructor(
    readonly faultType: string,
    message: string,
  ) {
    super(message);
  }
}

/** What a task's `info.error` says, in VMware's words (localizedMessage), with the fault's type. */
export function taskError(error: XmlNode | undefined, what: string): TaskFailed {
  const fault = child(error, 'fault');
  const type = (xsiType(fault) ?? 'VimFault').replace(/Fault$/, '');
  const message = textOf(error, 'localizedMessage') || textOf(fault, 'msg') || type;
  return new TaskFailed(type, `${what}: vSphere task failed: ${message} (${type})`);
}

/**
 * Follows a task to its end: progress goes to ctx.onProgress, an error comes back with VMware's
 * message, and a deadline or an abort cancels the task in vCenter (CancelTask) before failing,
 * so a relocation or snapshot nobody waits for any more does not finish behind our back.
 */
export async function waitForTask(
  soap: SoapClient,
  task: MoRef,
  what: string,
  timeoutMs: number,
  ctx: CallContext = {},
): Promise<XmlNode | undefined> {
  const until = Date.now() + timeoutMs;
  try {
    return await follow(soap, task, what, until, timeoutMs, ctx);
  } catch (err) {
    // Given up on (the caller's abort, our deadline, or a poll that timed out): vCenter would
    // otherwise finish the task behind our back. A task that failed by itself needs no cancel.
    if (!(err instanceof TaskFailed)) {
      await soap.call('CancelTask', task, '', AbortSignal.timeout(10_000)).catch(() => undefined);
    }
    throw err;
  }
}

async function follow(
  soap: SoapClient,
  task: MoRef,
  what: string,
  until: number,
  timeoutMs: number,
  ctx: CallContext,
): Promise<XmlNode | undefined> {
  let pause = 50;
  let lastPercent: number | undefined;
  for (;;) {
    if (ctx.signal?.aborted) throw new DriverError('failed', `${what}: aborted, task ${task.value} cancelled`);
    if (Date.now() > until) {
      throw new DriverError('timeout', `${what}: task ${task.value} not done within ${timeoutMs} ms (cancelled)`);
    }
    const props = await propertiesOf(soap, task, ['info'], ctx.signal);
    const info = props?.get('info');
    if (!info) throw new DriverError('failed', `${what}: task ${task.value} vanished`);
    const state = textOf(info, 'state');
    if (state === 'success') return child(info, 'result');
    if (state === 'error') throw taskError(child(info, 'error'), what);
    const percent = Number(textOf(info, 'progress'));
    if (Number.isFinite(percent) && percent !== lastPercent && ctx.onProgress) {
      lastPercent = percent;
      ctx.onProgress({ percent, message: `${what}: ${textOf(info, 'descriptionId') ?? 'running'}` });
    }
    await sleep(Math.min(pause, Math.max(0, until - Date.now())), undefined, { signal: ctx.signal }).catch(
      () => undefined,
    );
    pause = Math.min(pause * 2, 1_000);
  }
}

/** Runs a `*_Task` method and follows the task it returns. */
export async function runTask(
  soap: SoapClient,
  method: string,
  target: MoRef,
  body: string,
  what: string,
  timeoutMs: number,
  ctx: CallContext = {},
): Promise<XmlNode | undefined> {
  const res = await soap.call(method, target, body, ctx.signal);
  const task = moOf(child(res, 'returnval'));
  if (!task) throw new DriverError('failed', `${what}: ${method} returned no task`);
  return waitForTask(soap, task, what, timeoutMs, ctx);
}
