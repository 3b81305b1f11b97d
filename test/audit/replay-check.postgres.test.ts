/** replay-check after a long random history, on postgres (the suite: replay-check-suite.ts). */
import { replayCheckSuite } from './replay-check-suite.js';

replayCheckSuite('postgres');
