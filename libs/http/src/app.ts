/**
 * The API application: `createApiApp` builds it (initialized, not listening — tests drive it with
 * supertest), `serve` makes it listen and stops it on SIGINT/SIGTERM.
 */
import type { AddressInfo } from 'node:net';
import 'reflect-metadata';
import type { LogLevel, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter, type NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { openStore } from '@mnsim/store';
import { ApiModule } from './api.module.js';
import { type ApiConfig, ApiConfigError, describeStore, isLoopback } from './config.js';
import { bearerAuth, bodyErrors, compressAnswers } from './http-middleware.js';
import { mountUi } from './ui.js';
import { simulationPoolOptions } from './simulation-pool.js';

export interface CreateApiAppOptions {
  /**
   * Nest's own log levels, or the logger itself; default Nest's text logger, errors and warnings
   * only (no per-route start-up lines)
   */
  logger?: LogLevel[] | false | LoggerService;
}

/**
 * Opens the store (migrating it), then builds the application over it. The store belongs to the
 * application from then on: `app.close()` closes it.
 */
export async function createApiApp(
  config: ApiConfig,
  opts: CreateApiAppOptions = {},
): Promise<NestExpressApplication> {
  const store = await openStore({ applicationName: 'mnsim-api', ...config.store });
  let app: NestExpressApplication;
  try {
    app = await NestFactory.create<NestExpressApplication>(
      ApiModule.forStore(store, {
        cluster: config.cluster ?? null,
        orchestrator: config.orchestrator ?? null,
        runTimeoutMs: config.runTimeoutMs,
        simulation: {
          store: config.store,
          pool: simulationPoolOptions(config.store, config.simulation),
        },
        shutdownGraceMs: config.shutdownGraceMs,
      }),
      new ExpressAdapter(),
      {
        // the parser is registered below, after authentication, with our limit
        bodyParser: false,
        abortOnError: false,
        logger: opts.logger ?? ['error', 'warn'],
      },
    );
  } catch (err) {
    await store.close();
    throw err;
  }
  try {
    app.disable('x-powered-by');
    // Order matters, Express runs these in turn: authenticate, then read the body, then route.
    if (config.token !== null) app.use(bearerAuth(config.token));
    // the dashboard reads a run's events a thousand at a time, or its log whole: JSON that gzip
    // makes several times smaller
    app.use(compressAnswers());
    mountUi(app);
    app.useBodyParser('json', { limit: config.bodyLimitBytes });
    app.use(bodyErrors(config.bodyLimitBytes));
    setupOpenApi(app);
    await app.init();
  } catch (err) {
    await app.close().catch(() => undefined);
    await store.close().catch(() => undefined);
    throw err;
  }
  return app;
}

/** GET /docs (Swagger UI) and GET /docs-json (the OpenAPI document), behind the token like the rest. */
function setupOpenApi(app: NestExpressApplication): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('mnsim')
      .setDescription(
        'Runs, event logs and the violation history of mnsim, the simulator of the Linux 5.8 MMU-notifier path. ' +
          'Errors are `{ statusCode, error, message }`. With MNSIM_API_TOKEN set, every request but GET /health needs `Authorization: Bearer <token>`.',
      )
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json', raw: ['json'] });
}

export interface RunningApi {
  /** http://host:port */
  url: string;
  app: NestExpressApplication;
  /**
   * stops listening, lets requests in flight finish (closing those still open after the shutdown
   * grace), closes the store; idempotent
   */
  close(): Promise<void>;
  /** settles once the API has stopped (close() or a signal) */
  closed: Promise<void>;
}

/**
 * `mnsim serve`: listens on config.host:config.port, prints one line with the URL, and stops on
 * SIGINT or SIGTERM. A port in use or an address it cannot bind is an ApiConfigError (one line).
 */
export async function serve(
  config: ApiConfig,
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  opts: CreateApiAppOptions = {},
): Promise<RunningApi> {
  const app = await createApiApp(config, opts);
  const server = app.getHttpServer();
  try {
    // the server itself rather than app.listen(), which logs a failure to bind as a second line
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await app.close();
    const why = err instanceof Error ? err.message : String(err);
    throw new ApiConfigError(`cannot listen on ${config.host}:${config.port}: ${why}`);
  }
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;

  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  let closing: Promise<void> | null = null;
  const onSignal = (): void => void close();
  const close = (): Promise<void> => {
    closing ??= (async () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      try {
        await app.close();
      } finally {
        resolveClosed();
      }
    })();
    return closing;
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const orchestrating = config.orchestrator
    ? `, orchestrating the runs of queue prefix ${config.orchestrator.MNSIM_QUEUE_PREFIX}`
    : '';
  log(
    `mnsim serve: listening on ${url} (store ${describeStore(config.store)}${orchestrating}` +
      `${config.token === null ? '' : ', bearer token required'})`,
  );
  if (config.token === null && !isLoopback(config.host)) {
    log(
      `mnsim serve: warning: ${config.host} is reachable from other machines and MNSIM_API_TOKEN is not set: anyone who can connect can read the history and start runs`,
    );
  }
  return { url, app, close, closed };
}
