/**
 * The HTTP status of every error the API's work can end with: Nest's HTTP exceptions as they are,
 * mnsim's errors by their kind (@mnsim/errors maps each kind once), anything else 500 with no
 * detail. The exception filter answers with it, and the simulation workers classify their
 * failures with it before they cross the thread boundary (where an error keeps its message and
 * loses its class).
 */
import { HttpException, HttpStatus } from '@nestjs/common';
import { MnsimError } from '@mnsim/errors';

export interface ErrorStatus {
  status: number;
  message: string;
  /** a failure of the service rather than of the request: its details belong in the log */
  internal: boolean;
}

export function errorStatus(exception: unknown): ErrorStatus {
  if (exception instanceof HttpException) {
    // an answer the code chose; what led to a 5xx one was logged where it happened (the pool)
    return { status: exception.getStatus(), message: messageOf(exception), internal: false };
  }
  if (exception instanceof MnsimError) {
    // its kind's status (@mnsim/errors): 400 bad input, 404, 409, 422 a run limit, 503, 500
    const status = exception.httpStatus;
    return { status, message: exception.message, internal: status >= 500 };
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
