import { Controller, Get, Header } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Registry } from 'prom-client';
import { MetricsService } from './metrics.service.js';

@ApiTags('health')
@Controller('metrics')
export class MetricsController {
  constructor(private readonly metrics: MetricsService) {}

  @Get()
  @Header('Content-Type', Registry.PROMETHEUS_CONTENT_TYPE)
  @ApiOperation({
    summary:
      'Queue depth, workers, processed and failed counts per queue; runs by status; the process: event loop lag, heap, RSS (Prometheus text)',
  })
  @ApiOkResponse({ description: 'Prometheus text exposition format' })
  render(): Promise<string> {
    return this.metrics.render();
  }
}
