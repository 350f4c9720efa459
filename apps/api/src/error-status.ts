/**
 * The HTTP status of every error the API's work can end with, in one place: the exception filter
 * answers with it, and the simulation workers classify their failures with it before they cross
 * the thread boundary (where an error keeps its message and loses its class).
 */
import { HttpException, HttpStatus } from '@nestjs/common';
import { RecordedRunError } from '@mnsim/engine';
import { InvalidRunLimitError, RunLimitExceededError } from '@mnsim/events';
import { ScenarioError, UnknownScenarioError } from '@mnsim/scenarios';
import { AmbiguousRunIdError, RunNotFoundError, StoreError } from '@mnsim/store';
import { UnknownBuiltinError } from './scenario-source.js';

export interface ErrorStatus {
  status: number;
  message: string;
  /** a failure of the service rather than of the request: its details belong in the log */
  internal: boolean;
}

export function errorStatus(exception: unknown): ErrorStatus {
  const clientError = (status: number, message: string): ErrorStatus => ({
    status,
    message,
    internal: false,
  });
  if (exception instanceof HttpException) {
    return clientError(exception.getStatus(), messageOf(exception));
  }
  if (exception instanceof RunNotFoundError) {
    return clientError(HttpStatus.NOT_FOUND, exception.message);
  }
  if (
    exception instanceof AmbiguousRunIdError ||
    exception instanceof ScenarioError ||
    exception instanceof UnknownScenarioError ||
    exception instanceof UnknownBuiltinError ||
    (exception instanceof StoreError && exception.exitStatus === 2)
  ) {
    return clientError(HttpStatus.BAD_REQUEST, exception.message);
  }
  if (exception instanceof RunLimitExceededError) {
    // the request was well formed, but what it asks for is more than a run may produce
    return clientError(HttpStatus.UNPROCESSABLE_ENTITY, exception.message);
  }
  if (exception instanceof RecordedRunError) {
    // 2: the run cannot be replayed (not completed); 3: its log in the store is damaged
    return exception.exitCode === 2
      ? clientError(HttpStatus.CONFLICT, exception.message)
      : { status: HttpStatus.INTERNAL_SERVER_ERROR, message: exception.message, internal: true };
  }
  if (exception instanceof InvalidRunLimitError) {
    return { status: HttpStatus.INTERNAL_SERVER_ERROR, message: exception.message, internal: true };
  }
  return {
    status: HttpStatus.INTERNAL_SERVER_ERROR,
    message: 'internal server error',
    internal: true,
  };
}

function messageOf(exception: HttpException): string {
  const response = exception.getResponse();
  if (typeof response === 'string') return response;
  const message = (response as { message?: unknown }).message;
  if (Array.isArray(message)) return message.map(String).join('; ');
  return typeof message === 'string' ? message : exception.message;
}
