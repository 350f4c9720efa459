import { STATUS_CODES } from 'node:http';

/** The one shape of every error response: `{ statusCode, error, message }`. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
}

export function errorBody(statusCode: number, message: string): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
}
