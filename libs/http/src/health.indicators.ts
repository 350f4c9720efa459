/**
 * What GET /health checks, as terminus health indicators: the store (always) and Redis (with a
 * cluster configured). Each answers within HEALTH_CHECK_TIMEOUT_MS, `up` or `down` with a
 * one-line message that names no path nor address: /health needs no token.
 */
import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { type Store, StoreGoneError } from '@mnsim/store';
import { ClusterBus } from './metrics.service.js';
import { InjectStore } from './store.provider.js';
import { HEALTH_CHECK_TIMEOUT_MS, TimedOut, within } from './within.js';

class StoreDown extends Error {}

/** the first line of an error's message (Redis's replies are one line, e.g. `NOAUTH …`) */
function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n', 1)[0];
}

@Injectable()
export class StoreHealthIndicator {
  constructor(
    @InjectStore() private readonly store: Store,
    private readonly health: HealthIndicatorService,
  ) {}

  /**
   * Up when the store answers a query (the cheapest one it has: one run, by index) and its
   * database is the one it writes to: a SQLite file deleted or replaced under the api still
   * answers, from the file the connection keeps open, which no one else will ever read.
   */
  async check(key: 'store') {
    const indicator = this.health.check(key);
    const dialect = this.store.dialect;
    try {
      await within(HEALTH_CHECK_TIMEOUT_MS, this.answersInPlace());
    } catch (err) {
      return indicator.down({ dialect, message: storeDownReason(err) });
    }
    return indicator.up({ dialect });
  }

  private async answersInPlace(): Promise<void> {
    try {
      await this.store.listRuns({ limit: 1 });
    } catch {
      throw new StoreDown('the store does not answer');
    }
    await this.store.checkPresent();
  }
}

/** why the store's check failed, without the path of its file */
function storeDownReason(err: unknown): string {
  if (err instanceof TimedOut)
    return `the store did not answer within ${HEALTH_CHECK_TIMEOUT_MS} ms`;
  if (err instanceof StoreDown) return err.message;
  if (err instanceof StoreGoneError) {
    const what = err.replaced ? 'replaced by another file' : 'deleted or moved';
    return `the store's SQLite database file was ${what} since the api opened it: what it writes is lost`;
  }
  return 'the store cannot be checked';
}

@Injectable()
export class RedisHealthIndicator {
  constructor(
    private readonly cluster: ClusterBus,
    private readonly health: HealthIndicatorService,
  ) {}

  /** whether the api checks Redis at all: only with a cluster configured */
  get configured(): boolean {
    return this.cluster.bus !== null;
  }

  /**
   * Up when the api's connection to the cluster's Redis is ready and answers a PING. A connection
   * that is not ready is down at once: a command sent on it would wait for the reconnection (the
   * bus retries forever), so the check does not queue one.
   */
  async check(key: 'redis') {
    const indicator = this.health.check(key);
    const redis = this.cluster.bus?.redis;
    if (!redis) return indicator.down({ message: 'no cluster is configured' });
    if (redis.status !== 'ready') {
      return indicator.down({ message: `the api has no connection to Redis (${redis.status})` });
    }
    try {
      await within(HEALTH_CHECK_TIMEOUT_MS, redis.ping());
    } catch (err) {
      return indicator.down({
        message:
          err instanceof TimedOut
            ? `Redis did not answer a PING within ${HEALTH_CHECK_TIMEOUT_MS} ms`
            : `Redis refused a PING: ${oneLine(err)}`,
      });
    }
    return indicator.up();
  }
}
