import { readFileSync } from 'node:fs';
import { waitFor } from './wait.js';

/** The test guest's shell (busybox ash as root) prints this when it waits for a line. */
export const GUEST_PROMPT = '/ # ';

/** A guest's serial console as a test holds it, for waitForGuestPrompt. */
export interface PromptConsole {
  /** Everything the console delivered since it was opened. */
  output(): string;
  pressEnter(): void;
  /** Why the console stream ended, once it has; undefined while it is open. */
  closedWith(): string | undefined;
  /**
   * The serial log the hypervisor keeps whether anyone is attached or not: its tail goes into a
   * failure, so a prompt the guest printed but the console never delivered tells itself apart
   * from a guest that never printed one.
   */
  logPath?: string;
}

/**
 * Waits for the guest shell's prompt, pressing Enter until it shows. GUEST-READY is printed
 * before ash starts, and a line typed while it starts loses its first characters (the answer
 * never comes); a prompt printed before the console was opened is not seen, hence the Enter.
 * A console that ends meanwhile fails the wait at once with its reason: pressing Enter into a
 * closed stream for a minute would only hide it.
 */
export async function waitForGuestPrompt(c: PromptConsole): Promise<void> {
  try {
    await waitFor(
      () => {
        const closed = c.closedWith();
        if (closed !== undefined) throw new Error(`the guest console ended before the prompt: ${closed}`);
        if (c.output().includes(GUEST_PROMPT)) return true;
        c.pressEnter();
        return false;
      },
      { what: "the guest shell's prompt", timeoutMs: 60_000, intervalMs: 500 },
    );
  } catch (err) {
    const log = c.logPath === undefined ? '' : `; serial log: ${JSON.stringify(tail(c.logPath, 600))}`;
    throw new Error(`${(err as Error).message}; console: ${JSON.stringify(c.output().slice(-300))}${log}`, {
      cause: err,
    });
  }
}

function tail(path: string, chars: number): string {
  try {
    return readFileSync(path, 'utf8').slice(-chars);
  } catch (err) {
    return `(unreadable: ${(err as Error).message})`;
  }
}
