/** One line of the table `npm run chaos` prints: a fault or an abuse and what it cost. */
export interface ChaosRow {
  /** Short name of the fault or abuse, e.g. "kill -9 worker". */
  fault: string;
  /** How many times it was injected (kills, outages, requests tried…). */
  injected: number;
  opsStarted: number;
  opsEnded: number;
  /** Accepted commands whose events or results never appeared: must be 0. */
  eventsLost: number;
  /** Result events appended more than once, or a request answered twice: must be 0. */
  duplicates: number;
  /** Hypervisor processes or files left without a VM: must be 0. */
  orphans: number;
  /** Figures worth printing beside the counts (p99, RSS, 4xx/5xx counts…). */
  notes?: string;
}
