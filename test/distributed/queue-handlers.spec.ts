/**
 * A worker app serves exactly the queues the topology gives it (libs/bus topology.ts): its
 * BusModule registers them, and an app that has no processor for one of them, or a processor
 * for a queue not its own, stops at start naming the queue, before serving anything (a queue
 * nobody handles would leave every run that needs it to time out).
 */
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { type DynamicModule, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  BusModule,
  CLUSTER_PROCESSES,
  type ClusterConfig,
  UnservedQueueError,
  checkServed,
  componentQueueProcessor,
  parseClusterConfig,
  processOf,
} from '@mnsim/bus';
import { afterEach, describe, expect, it } from 'vitest';
import { REDIS_URL, dropPrefix } from './harness.js';

const prefixes: string[] = [];
afterEach(async () => {
  await Promise.all(prefixes.splice(0).map((p) => dropPrefix(p, REDIS_URL)));
});

function config(): ClusterConfig {
  const prefix = `mnsimt-handlers-${randomBytes(4).toString('hex')}`;
  prefixes.push(prefix);
  return parseClusterConfig({ MNSIM_REDIS_URL: REDIS_URL, MNSIM_QUEUE_PREFIX: prefix });
}

/** The mmu-notifier app's module with the processors given (its own: the `mm` queue's). */
function mmuNotifier(cfg: ClusterConfig, providers: DynamicModule['providers']): DynamicModule {
  @Module({})
  class App {}
  return { module: App, imports: [BusModule.forRoot(cfg, 'mmu-notifier')], providers };
}

async function start(module: DynamicModule): Promise<() => Promise<void>> {
  const app = await NestFactory.createApplicationContext(module, { logger: false });
  return () => app.close();
}

describe('a worker app serves exactly its queues', () => {
  it('starts with a processor for its queue', async () => {
    const cfg = config();
    const close = await start(mmuNotifier(cfg, [componentQueueProcessor('mm', cfg)]));
    await close();
  });

  it('stops at start without one, naming the queue', async () => {
    await expect(start(mmuNotifier(config(), []))).rejects.toThrow(
      new UnservedQueueError(
        'mmu-notifier: no processor handles its queue "mm" (the topology gives it mm)',
      ),
    );
  });

  it('stops at start with a processor for a queue that is not its own', async () => {
    const cfg = config();
    const providers = [componentQueueProcessor('mm', cfg), componentQueueProcessor('oom', cfg)];
    await expect(start(mmuNotifier(cfg, providers))).rejects.toThrow(
      'mmu-notifier: a processor serves "oom", not its queue in the topology (mm)',
    );
  });

  it('every process of the topology: its own queues pass, one less or one more does not', () => {
    for (const p of CLUSTER_PROCESSES) {
      const own = p.queues.map((q) => q.queue);
      expect(() => checkServed(p, own)).not.toThrow();
      expect(() => checkServed(p, own.slice(1))).toThrow(UnservedQueueError);
      expect(() => checkServed(p, [...own, 'dead-letter'])).toThrow(UnservedQueueError);
    }
    expect(processOf('kvm', 'x86').queues.map((q) => q.queue)).toEqual(['kvm-x86']);
    expect(processOf('api').queues.map((q) => q.queue)).toEqual(['orchestrator', 'task']);
  });
});
