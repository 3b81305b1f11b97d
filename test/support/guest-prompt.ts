import { waitFor } from './wait.js';

/** The test guest's shell (busybox ash as root) prints this when it waits for a line. */
export const GUEST_PROMPT = '/ # ';

/**
 * Waits for the guest shell's prompt, pressing Enter until it shows. GUEST-READY is printed
 * before ash starts, and a line typed while it starts loses its first characters (the answer
 * never comes); a prompt printed before the console was opened is not seen, hence the Enter.
 */
export async function waitForGuestPrompt(output: () => string, pressEnter: () => void): Promise<void> {
  await waitFor(
    () => {
      if (output().includes(GUEST_PROMPT)) return true;
      pressEnter();
      return false;
    },
    { what: "the guest shell's prompt", timeoutMs: 60_000, intervalMs: 500 },
  );
}
