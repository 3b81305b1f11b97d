/** The driver contract (test/drivers/contract-suite.ts) against the container driver. */
import { runContract } from '../contract-suite.js';

await runContract('container');
