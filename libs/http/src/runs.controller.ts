import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import { ApiErrors } from './api-docs.js';
import { ReplayService } from './replay.service.js';
import { NDJSON } from './http-middleware.js';
import { MAX_REPLAY_EVENTS } from './simulation-tasks.js';
import {
  createRunBody,
  type CreateRunBody,
  eventsQuery,
  type EventsQuery,
  listRunsQuery,
  type ListRunsQuery,
  noQuery,
  type NoQuery,
  replayBody,
  type ReplayBody,
  runIdParam,
} from './requests.js';
import {
  eventsPageResponse,
  kernelLogResponse,
  replayResponse,
  runJsonResponse,
  runResponse,
  runsPageResponse,
} from './responses.js';
import { RunLogService } from './run-log.service.js';
import { RunsService } from './runs.service.js';

@ApiTags('runs')
@ApiBearerAuth()
@Controller('runs')
export class RunsController {
  constructor(
    private readonly runs: RunsService,
    private readonly replays: ReplayService,
    private readonly logs: RunLogService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Runs, newest first (keyset pages)' })
  @ApiOkResponse({ standardSchema: runsPageResponse })
  @ApiErrors(400)
  list(@Query({ schema: listRunsQuery }) query: ListRunsQuery) {
    return this.runs.list(query);
  }

  @Post()
  @HttpCode(201)
  @ApiOperation({
    summary: 'Run a scenario embedded and record it',
    description:
      'Body: `{ "scenario": "<built-in>" }`, `{ "yaml": "<scenario file text>" }` or `{ "scenario": { …scenario object… } }`, plus optional `kernel` and `seed`. Answers as `mnsim run --json`.',
  })
  @ApiCreatedResponse({ standardSchema: runJsonResponse })
  @ApiErrors(400, 413, 500)
  create(@Body({ schema: createRunBody }) body: CreateRunBody) {
    return this.runs.create(body);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One run, by id or unique prefix' })
  @ApiOkResponse({ standardSchema: runResponse })
  @ApiErrors(400, 404)
  get(
    @Param('id', { schema: runIdParam }) id: string,
    @Query({ schema: noQuery }) _query: NoQuery,
  ) {
    return this.runs.get(id);
  }

  @Get(':id/events')
  @ApiOperation({ summary: "A page of the run's event log, in seq order" })
  @ApiOkResponse({ standardSchema: eventsPageResponse })
  @ApiErrors(400, 404)
  events(
    @Param('id', { schema: runIdParam }) id: string,
    @Query({ schema: eventsQuery }) query: EventsQuery,
  ) {
    return this.runs.events(id, query);
  }

  @Get(':id/log')
  @ApiOperation({
    summary: "The run's log, as `mnsim export` writes it (JSON Lines, streamed)",
    description:
      "A header line (format, version 2, runId, scenario, kernel, arch, seed, events, logHash), then the run's log in format 2: exactly the lines the logHash covers, each repeated part of the events defined once on a line of its own. Only a completed run that was simulated has one. " +
      'The lines are checked against the run as they are sent: a log found damaged after the answer has begun ends the transfer unfinished, never as a whole answer. ' +
      'A log answered whole is kept, compressed, and answered again from memory (with its Content-Length); its ETag (the logHash and the encoding) answers If-None-Match with 304.',
  })
  @ApiProduces(NDJSON)
  @ApiOkResponse({
    description: 'the log file, one JSON value a line',
    content: { [NDJSON]: { schema: { type: 'string' } } },
  })
  @ApiResponse({
    status: 304,
    description: 'If-None-Match named the ETag: the log has not changed',
  })
  @ApiErrors(400, 404, 409, 500)
  async log(
    @Param('id', { schema: runIdParam }) id: string,
    @Query({ schema: noQuery }) _query: NoQuery,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    await this.logs.send(id, req, res);
  }

  @Get(':id/kernel-log')
  @ApiOperation({
    summary: "The run's kernel log, as dmesg shows it",
    description:
      'Rebuilt from the events as `mnsim run` prints it: what the components printed and the splat of every violation the rate limit let print, in log order, each line with the seq of the event that printed it (a violation for a splat).',
  })
  @ApiOkResponse({ standardSchema: kernelLogResponse })
  @ApiErrors(400, 404)
  kernelLog(
    @Param('id', { schema: runIdParam }) id: string,
    @Query({ schema: noQuery }) _query: NoQuery,
  ) {
    return this.runs.kernelLog(id);
  }

  @Post(':id/replay')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Replay a recorded run (verify), or against another kernel variant',
    description:
      'Answers as `mnsim replay --json`. With `"events": true`, the answer also holds the re-executed run\'s events as GET /runs/:id/events gives a recorded run\'s, without recordedAt ' +
      `(\`events\`, at most the first ${MAX_REPLAY_EVENTS}), and whether it had more (\`eventsTruncated\`).`,
  })
  @ApiOkResponse({ standardSchema: replayResponse })
  @ApiErrors(400, 404, 409, 413, 500)
  replay(
    @Param('id', { schema: runIdParam }) id: string,
    @Body({ schema: replayBody }) body: ReplayBody,
  ) {
    return this.replays.replay(id, body);
  }
}
