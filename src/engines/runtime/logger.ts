import { LogFormat } from './config';

/** Severity of a log line. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Extra structured fields of a log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/**
 * Structured logs on stdout, one line per event: JSON for the cluster's log pipeline, or
 * `time level msg key=value` for a developer's terminal. Every line carries the engine's identity.
 */
export class Logger {
  constructor(private readonly format: LogFormat, private readonly base: LogFields = {}) {}

  /** A logger whose lines also carry `fields`. */
  public child(fields: LogFields): Logger {
    return new Logger(this.format, { ...this.base, ...fields });
  }

  /** A logger writing the same fields in another format. */
  public withFormat(format: LogFormat): Logger {
    return new Logger(format, this.base);
  }

  public debug(msg: string, fields: LogFields = {}): void { this.write('debug', msg, fields); }
  public info(msg: string, fields: LogFields = {}): void { this.write('info', msg, fields); }
  public warn(msg: string, fields: LogFields = {}): void { this.write('warn', msg, fields); }
  public error(msg: string, fields: LogFields = {}): void { this.write('error', msg, fields); }

  private write(level: LogLevel, msg: string, fields: LogFields): void {
    const time = new Date().toISOString();
    const all: Record<string, unknown> = { ...this.base, ...fields };
    for (const [key, value] of Object.entries(all)) {
      if (value instanceof Error) all[key] = value.message;
    }
    let line: string;
    if (this.format === 'json') {
      line = JSON.stringify({ time, level, msg, ...all });
    } else {
      const pairs = Object.entries(all).map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
      line = [time, level.toUpperCase(), msg, ...pairs].join(' ');
    }
    // Synchronous on Linux pipes and files, so lines written just before exit are not lost.
    process.stdout.write(`${line}\n`);
  }
}
