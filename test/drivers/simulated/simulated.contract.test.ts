/** The driver contract (test/drivers/contract-suite.ts) against the simulated driver. */
import { runContract } from '../contract-suite.js';

await runContract('simulated');
