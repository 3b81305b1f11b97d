import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * One pino root logger. Redaction keeps bearer tokens out of every log line,
 * whatever object they arrive in.
 */
export function createLogger(level: string, name = 'virtledger'): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: ['req.headers.authorization', '*.authorization', 'authorization', 'token', '*.token'],
      censor: '[redacted]',
    },
  });
}
