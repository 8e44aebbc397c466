import { stackOf } from './errors.js';

export type LogFormat = 'json' | 'text' | 'auto';
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/** One log entry as a sink receives it: level, message, then the logger's and the call's fields. */
export type LogEntry = Record<string, unknown> & { level: LogLevel; message: string };

/** Where entries go; it must not throw. */
export type LogSink = (entry: LogEntry) => void;

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };

/**
 * The one logger, created once and passed in; `child` adds fields (such as
 * the component) to every entry. Entries below its level are dropped before
 * anything is built.
 */
export class Logger {
  private readonly rank: number;

  constructor(
    readonly level: LogLevel,
    private readonly sink: LogSink,
    private readonly fields: Readonly<Record<string, unknown>> = {},
  ) {
    this.rank = RANK[level];
  }

  error(message: string, meta?: Record<string, unknown>): void {
    this.write('error', message, meta);
  }

  warn(message: string, meta?: Record<string, unknown>): void {
    this.write('warn', message, meta);
  }

  info(message: string, meta?: Record<string, unknown>): void {
    this.write('info', message, meta);
  }

  debug(message: string, meta?: Record<string, unknown>): void {
    this.write('debug', message, meta);
  }

  child(fields: Record<string, unknown>): Logger {
    return new Logger(this.level, this.sink, { ...this.fields, ...fields });
  }

  /** An Error given as a field reads as its message; at the debug level its stack and causes come along (`<field>Stack`). */
  private write(level: LogLevel, message: string, meta: Record<string, unknown> | undefined): void {
    if (RANK[level] > this.rank) return;
    const entry: LogEntry = { ...this.fields, ...meta, level, message };
    if (meta && this.rank >= RANK.debug)
      for (const [key, value] of Object.entries(meta))
        if (value instanceof Error) entry[`${key}Stack`] = stackOf(value);
    this.sink(entry);
  }
}

/**
 * The daemon's logger: JSON lines for machines, short readable lines for
 * people (`auto`: text on a terminal). Always on stderr, so `switchyard
 * render` can print the config alone on stdout.
 */
export function createLogger(level: LogLevel = 'info', format: LogFormat = 'auto'): Logger {
  const json = format === 'json' || (format === 'auto' && !process.stderr.isTTY);
  return new Logger(level, streamSink(process.stderr, json ? jsonLine : textLine));
}

/** A logger that drops everything: for unit tests and library use. */
export function silentLogger(): Logger {
  return new Logger('error', () => undefined);
}

/** A sink writing one line per entry to `out`. */
export function streamSink(out: NodeJS.WritableStream, line: (entry: LogEntry, now: Date) => string): LogSink {
  return (entry) => void out.write(`${line(entry, new Date())}\n`);
}

/** `{"level","message",…fields,"timestamp"}`, as winston's JSON format wrote it. */
export function jsonLine(entry: LogEntry, now: Date): string {
  const { level, message, ...rest } = entry;
  const timestamp = now.toISOString();
  return (
    stringify({ level, message, ...rest, timestamp }) ??
    JSON.stringify({ level, message, timestamp, fields: '(not serializable)' })
  );
}

/** `HH:mm:ss.SSS level message  key=value …` in local time. */
export function textLine(entry: LogEntry, now: Date): string {
  const { level, message, ...rest } = entry;
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const time = `${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}.${pad(now.getMilliseconds(), 3)}`;
  const fields = Object.entries(rest)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : (stringify(v) ?? '(not serializable)')}`)
    .join(' ');
  return `${time} ${level.padEnd(5)} ${message}${fields ? '  ' + fields : ''}`;
}

/** JSON where an Error is its message and a bigint its digits; null for what JSON cannot hold (a cycle). */
function stringify(value: unknown): string | null {
  try {
    return JSON.stringify(value, (_key, v: unknown) =>
      typeof v === 'bigint' ? v.toString() : v instanceof Error ? v.message : v,
    );
  } catch {
    return null;
  }
}
