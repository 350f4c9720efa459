import type { ServerResponse } from 'node:http';
import { Controller, Get, HttpStatus, Res, ServiceUnavailableException } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import {
  HealthCheck,
  type HealthCheckResult,
  HealthCheckService,
  type HealthIndicatorFunction,
} from '@nestjs/terminus';
import { RedisHealthIndicator, StoreHealthIndicator } from './health.indicators.js';
import { healthResponse } from './responses.js';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly store: StoreHealthIndicator,
    private readonly redis: RedisHealthIndicator,
  ) {}

  @Get()
  @HealthCheck({ noCache: true, swaggerDocumentation: false })
  @ApiOperation({
    summary:
      'Liveness: the store answers and its database is still in place; with a cluster, Redis answers (no token needed)',
  })
  @ApiOkResponse({ standardSchema: healthResponse })
  @ApiResponse({ status: 503, standardSchema: healthResponse })
  async check(@Res({ passthrough: true }) res: ServerResponse): Promise<HealthCheckResult> {
    const checks: HealthIndicatorFunction[] = [() => this.store.check('store')];
    if (this.redis.configured) checks.push(() => this.redis.check('redis'));
    try {
      return await this.health.check(checks);
    } catch (err) {
      // terminus throws its result in a 503 when a check is down or the api is shutting down:
      // answered as it is, in terminus's shape, not turned into the API's error shape
      if (!(err instanceof ServiceUnavailableException)) throw err;
      res.statusCode = HttpStatus.SERVICE_UNAVAILABLE;
      return err.getResponse() as HealthCheckResult;
    }
  }
}
