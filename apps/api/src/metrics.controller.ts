import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { MetricsService } from './metrics.service.js';

@ApiTags('health')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({
    summary:
      'Queue depth, workers, processed and failed counts per queue; runs by status (Prometheus text)',
  })
  @ApiOkResponse({ description: 'Prometheus text exposition format' })
  render(): Promise<string> {
    return this.metrics.render();
  }
}
