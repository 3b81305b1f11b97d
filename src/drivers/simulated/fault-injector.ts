import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DriverError } from '../hypervisor-driver.port.js';
import { mulberry32 } from './prng.js';
import type { SimulatedOptions, SimulatedVerb } from './simulated-options.js';

/** Observation verbs: a random failure rate leaves them alone so reconciliation sees the truth. */
const OBSERVERS: ReadonlySet<SimulatedVerb> = new Set(['status', 'listDomains']);

/** Volume verbs fail only when failVerbs names them: existing random-failure hosts keep their volumes working. */
const OPT_IN: ReadonlySet<SimulatedVerb> = new Set(['createVolume', 'resizeVolume']);

/** Latency, random failures and hangs, as the host URI asks. */
export class FaultInjector {
  private readonly random: () => number;

  constructor(private readonly opts: SimulatedOptions) {
    this.random = mulberry32(opts.seed ?? randomInt(0, 0xffffffff));
  }

  get latencyMs(): number {
    return this.opts.latencyMs;
  }

  /** The usual prologue of a verb: hang if asked, wait the latency, then maybe fail. */
  async enter(verb: SimulatedVerb, signal: AbortSignal | undefined): Promise<void> {
    await this.hangIfAsked(verb, signal);
    await this.wait(verb, this.opts.latencyMs, signal);
    this.maybeFail(verb);
  }

  async hangIfAsked(verb: SimulatedVerb, signal: AbortSignal | undefined): Promise<void> {
    throwIfAborted(verb, signal);
    if (!this.opts.hangVerbs.has(verb)) return;
    // Without a signal this never settles, like a hypervisor that stopped answering.
    if (!signal) return new Promise<never>(() => undefined);
    await new Promise<never>((_, reject) => {
      // AbortSignal.timeout() does not keep the process alive; a real hung socket would, until the deadline.
      const keepAlive = setInterval(() => undefined, 2 ** 30);
      signal.addEventListener(
        'abort',
        () => {
          clearInterval(keepAlive);
          reject(timeoutError(verb, signal));
        },
        { once: true },
      );
    });
  }

  async wait(verb: SimulatedVerb, ms: number, signal: AbortSignal | undefined): Promise<void> {
    throwIfAborted(verb, signal);
    if (ms <= 0) return;
    try {
      await sleep(ms, undefined, { signal });
    } catch (err) {
      if (signal?.aborted) throw timeoutError(verb, signal);
      throw err;
    }
  }

  maybeFail(verb: SimulatedVerb): void {
    const eligible = this.opts.failVerbs ? this.opts.failVerbs.has(verb) : !OBSERVERS.has(verb) && !OPT_IN.has(verb);
    if (!eligible || this.opts.failureRate <= 0) return;
    if (this.random() < this.opts.failureRate) throw new DriverError('failed', `simulated failure: ${verb}`);
  }
}

function throwIfAborted(verb: SimulatedVerb, signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw timeoutError(verb, signal);
}

function timeoutError(verb: SimulatedVerb, signal: AbortSignal): DriverError {
  return new DriverError('timeout', `simulated ${verb}: aborted before completion`, { cause: signal.reason });
}
