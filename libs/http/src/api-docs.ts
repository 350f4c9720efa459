import { applyDecorators } from '@nestjs/common';
import { ApiResponse } from '@nestjs/swagger';
import { errorResponse } from './responses.js';

const REASONS: Record<number, string> = {
  400: 'a query parameter, path parameter or body is invalid: the message names it and says why',
  401: 'MNSIM_API_TOKEN is set and the request has no valid Authorization: Bearer header',
  404: 'no run matches the id or prefix',
  409: 'the run has no log to replay or export: it has not completed, or it was observed',
  413: 'the body is larger than the limit (1 MiB)',
  500: 'the run failed, or an internal error (details in the server log only)',
  503: 'the store does not answer',
};

/** The error answers of an operation, all `{ statusCode, error, message }`; 401 applies to all. */
export function ApiErrors(...statuses: number[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...[...statuses, 401].map((status) =>
      ApiResponse({ status, description: REASONS[status], standardSchema: errorResponse }),
    ),
  );
}
