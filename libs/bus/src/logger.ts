/**
 * Logging for the worker apps: Nest's own ConsoleLogger in JSON mode, one object per line with
 * level, pid, timestamp, message, the service as `context` and the record's fields at the top
 * level, which is what a log shipper wants. The same logger serves Nest's messages and the bus's.
 */
import { ConsoleLogger } from '@nestjs/common';

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
export function busLoggerOf(logger: ConsoleLogger): BusLogger {
  return (level, msg, fields) => {
    const args: unknown[] = fields === undefined ? [] : [fields];
    if (level === 'info') logger.log(msg, ...args);
    else if (level === 'warn') logger.warn(msg, ...args);
    else logger.error(msg, ...args);
  };
}
