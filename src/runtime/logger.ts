import { createRequire } from 'node:module';
import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** pino-pretty is optional: without it (a production install) a terminal gets JSON too. */
function prettyInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

/**
 * Human-readable lines for a person at a terminal; JSON lines for everything else
 * (files, pipes, journald, docker logs), which log shippers parse.
 */
export function logFormat(
  isTTY: boolean | undefined = process.stdout.isTTY,
  hasPretty: () => boolean = prettyInstalled,
): 'pretty' | 'json' {
  return isTTY === true && hasPretty() ? 'pretty' : 'json';
}

/**
 * One pino root logger. Redaction keeps bearer tokens out of every log line,
 * whatever object they arrive in (it runs before the pretty transport).
 */
export function createLogger(level: string, name = 'virtledger', format = logFormat()): Logger {
  const options: LoggerOptions = {
    name,
    level,
    redact: {
      paths: ['req.headers.authorization', '*.authorization', 'authorization', 'token', '*.token'],
      censor: '[redacted]',
    },
  };
  if (format === 'pretty') {
    options.transport = {
      target: 'pino-pretty',
      options: { translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' },
    };
  }
  return pino(options);
}
