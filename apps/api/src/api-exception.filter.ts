import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  HttpStatus,
  Logger,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { RecordedRunError } from '@mnsim/engine';
import { ScenarioError, UnknownScenarioError } from '@mnsim/scenarios';
import { AmbiguousRunIdError, RunNotFoundError, StoreError } from '@mnsim/store';
import { errorBody } from './error-body.js';

/**
 * Every error leaves the API as `{ statusCode, error, message }` with a one-line message and no
 * stack trace: bad input (an invalid scenario, an unknown or ambiguous run, a bad cursor) is a 4xx
 * with the reason the CLI would print; anything else is a 500 whose details go to the log only.
 */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('mnsim-api');

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const { status, message } = this.classify(exception);
    const response: unknown = host.switchToHttp().getResponse();
    this.adapterHost.httpAdapter.reply(response, errorBody(status, message), status);
  }

  private classify(exception: unknown): { status: number; message: string } {
    if (exception instanceof HttpException) {
      return { status: exception.getStatus(), message: messageOf(exception) };
    }
    if (exception instanceof RunNotFoundError) {
      return { status: HttpStatus.NOT_FOUND, message: exception.message };
    }
    if (exception instanceof AmbiguousRunIdError) {
      return { status: HttpStatus.BAD_REQUEST, message: exception.message };
    }
    if (exception instanceof ScenarioError || exception instanceof UnknownScenarioError) {
      return { status: HttpStatus.BAD_REQUEST, message: exception.message };
    }
    if (exception instanceof StoreError && exception.exitStatus === 2) {
      return { status: HttpStatus.BAD_REQUEST, message: exception.message };
    }
    if (exception instanceof RecordedRunError) {
      // 2: the run cannot be replayed (not completed); 3: its log in the store is damaged
      return exception.exitCode === 2
        ? { status: HttpStatus.CONFLICT, message: exception.message }
        : { status: HttpStatus.INTERNAL_SERVER_ERROR, message: exception.message };
    }
    this.logger.error(
      exception instanceof Error ? (exception.stack ?? exception.message) : String(exception),
    );
    return { status: HttpStatus.INTERNAL_SERVER_ERROR, message: 'internal server error' };
  }
}

function messageOf(exception: HttpException): string {
  const response = exception.getResponse();
  if (typeof response === 'string') return response;
  const message = (response as { message?: unknown }).message;
  if (Array.isArray(message)) return message.map(String).join('; ');
  return typeof message === 'string' ? message : exception.message;
}
