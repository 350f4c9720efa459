import { type ArgumentsHost, Catch, type ExceptionFilter, Logger } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { errorBody } from './error-body.js';
import { errorStatus } from './error-status.js';
import { SimulationPoolFullException } from './simulation-pool.js';

/**
 * Every error leaves the API as `{ statusCode, error, message }` with a one-line message and no
 * stack trace: bad input (an invalid scenario, an unknown or ambiguous run, a bad cursor) is a 4xx
 * with the reason the CLI would print (errorStatus); anything else is a 500 whose details go to
 * the log only. A refusal for a full simulation pool says when to come back (Retry-After).
 */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('mnsim-api');

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const { status, message, internal } = errorStatus(exception);
    if (internal) {
      this.logger.error(
        exception instanceof Error ? (exception.stack ?? exception.message) : String(exception),
      );
    }
    const response: unknown = host.switchToHttp().getResponse();
    const http = this.adapterHost.httpAdapter;
    if (exception instanceof SimulationPoolFullException) {
      http.setHeader(response, 'Retry-After', String(exception.retryAfterSeconds));
    }
    http.reply(response, errorBody(status, message), status);
  }
}
