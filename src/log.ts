import winston from 'winston';

export type Logger = winston.Logger;
export type LogFormat = 'json' | 'text' | 'auto';
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/**
 * The one logger: JSON lines for machines, short readable lines for people.
 * Always on stderr, so `switchyard render` can print the config alone on stdout.
 */
export function createLogger(level: LogLevel = 'info', format: LogFormat = 'auto'): Logger {
  const json = format === 'json' || (format === 'auto' && !process.stderr.isTTY);
  return winston.createLogger({
    level,
    format: json
      ? winston.format.combine(
          winston.format.timestamp(),
          winston.format.errors({ stack: false }),
          winston.format.json(),
        )
      : winston.format.combine(winston.format.timestamp({ format: 'HH:mm:ss.SSS' }), winston.format.printf(readable)),
    transports: [
      new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] }),
    ],
  });
}

function readable(info: winston.Logform.TransformableInfo): string {
  const { level, message, timestamp, ...rest } = info;
  const fields = Object.entries(rest)
    .filter(([k]) => typeof k === 'string')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${String(timestamp)} ${level.padEnd(5)} ${String(message)}${fields ? '  ' + fields : ''}`;
}

/** A logger that drops everything: for unit tests and library use. */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console()] });
}
