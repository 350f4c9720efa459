import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { HealthService } from './health.service.js';
import { errorResponse, healthResponse } from './responses.js';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(private readonly health: HealthService) {}

  @Get()
  @ApiOperation({
    summary: 'Liveness: the store answers and its database is still in place (no token needed)',
  })
  @ApiOkResponse({ standardSchema: healthResponse })
  @ApiResponse({ status: 503, standardSchema: errorResponse })
  check() {
    return this.health.check();
  }
}
