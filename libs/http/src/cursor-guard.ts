import { BadRequestException } from '@nestjs/common';

/**
 * Runs a paged query, turning a forged cursor into a 400. The store checks a cursor's shape, but a
 * cursor whose parts have the right types and nonsense values (a timestamp that is not one) only
 * fails in Postgres, as a data exception (SQLSTATE class 22); with a cursor given, that can only be
 * the cursor's fault.
 */
export async function pagedQuery<T>(
  cursor: string | undefined,
  query: () => Promise<T>,
): Promise<T> {
  try {
    return await query();
  } catch (err) {
    if (cursor !== undefined && isDataException(err)) {
      throw new BadRequestException(
        `query parameter cursor: must be a nextCursor returned by this endpoint`,
      );
    }
    throw err;
  }
}

function isDataException(err: unknown): boolean {
  const e = err as { code?: unknown; driverError?: { code?: unknown } } | null;
  const code = e?.code ?? e?.driverError?.code;
  return typeof code === 'string' && /^22[0-9A-Z]{3}$/.test(code);
}
