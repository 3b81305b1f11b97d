/** replay-check after a long random history, on sqlite (the suite: replay-check-suite.ts). */
import { replayCheckSuite } from './replay-check-suite.js';

replayCheckSuite('sqlite');
