import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrors } from './api-docs.js';
import {
  noQuery,
  type NoQuery,
  signaturesQuery,
  type SignaturesQuery,
  violationsQuery,
  type ViolationsQuery,
} from './requests.js';
import {
  campaignsResponse,
  signatureMatrixResponse,
  signaturesResponse,
  violationsPageResponse,
} from './responses.js';
import { ViolationsService } from './violations.service.js';

@ApiTags('violations')
@ApiBearerAuth()
@Controller()
export class ViolationsController {
  constructor(private readonly violations: ViolationsService) {}

  @Get('violations')
  @ApiOperation({ summary: 'Recorded violations, newest first (keyset pages)' })
  @ApiOkResponse({ standardSchema: violationsPageResponse })
  @ApiErrors(400, 404)
  list(@Query({ schema: violationsQuery }) query: ViolationsQuery) {
    return this.violations.list(query);
  }

  @Get('campaigns')
  @ApiOperation({
    summary: 'The fuzz campaigns recorded: runs by seed, newest first',
  })
  @ApiOkResponse({ standardSchema: campaignsResponse })
  @ApiErrors(400)
  campaigns(@Query({ schema: noQuery }) _query: NoQuery) {
    return this.violations.campaigns();
  }

  @Get('signatures/matrix')
  @ApiOperation({
    summary: 'Per signature, kernel and arch: the matrix of where each signature occurs',
  })
  @ApiOkResponse({ standardSchema: signatureMatrixResponse })
  @ApiErrors(400, 404)
  matrix(@Query({ schema: signaturesQuery }) query: SignaturesQuery) {
    return this.violations.matrix(query);
  }

  @Get('signatures')
  @ApiOperation({ summary: 'Violations grouped by signature, most frequent first' })
  @ApiOkResponse({ standardSchema: signaturesResponse })
  @ApiErrors(400, 404)
  signatures(@Query({ schema: signaturesQuery }) query: SignaturesQuery) {
    return this.violations.signatures(query);
  }
}
