/**
 * Logging for the worker apps: Nest's own ConsoleLogger in JSON mode, one object per line with
 * level, pid, timestamp, message, the service as `context` and the record's fields at the top
 * level, which is what a log shipper wants. The same logger serves Nest's messages and the bus's.
 */
import { ConsoleLogger, type LoggerService } from '@nestjs/common';

/** One structured log record from the bus and its processors. */
export type BusLogger = (level: 'info' | 'warn' | 'error', msg: string, fields?: object) => void;

/** The Nest logger of a worker app: pass it to NestFactory so Nest's own lines are JSON too. */
export function workerLogger(service: string): ConsoleLogger {
  return new ConsoleLogger(service, {
    json: true,
    flattenParams: true,
    logLevels: ['log', 'warn', 'error', 'fatal'],
  });
}

/** A BusLogger writing through a Nest logger: info → log, warn → warn, error → error. */
export function busLoggerOf(logger: Pick<LoggerService, 'log' | 'warn' | 'error'>): BusLogger {
  return (level, msg, fields) => {
    const args: unknown[] = fields === undefined ? [] : [fields];
    if (level === 'info') logger.log(msg, ...args);
    else if (level === 'warn') logger.warn(msg, ...args);
    else logger.error(msg, ...args);
  };
}

/**
 * A Bus's onConnectionError that logs each error (already limited by the Bus to one per queue and
 * message per quiet period) as one record, never a stack trace.
 */
export function logConnectionErrors(log: BusLogger): (err: Error, queue?: string) => void {
  return (err, queue) =>
    log('error', 'Redis connection error', { ...(queue ? { queue } : {}), reason: err.message });
}
