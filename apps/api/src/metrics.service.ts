/**
 * GET /metrics: the cluster's queues in Prometheus text format -- depth by state, workers, and
 * the processed and failed counts the workers keep through BullMQ's metrics -- plus the store's
 * runs by status. Without a cluster configured (MNSIM_REDIS_URL) only the store's lines appear.
 */
import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { ARCHES } from '@mnsim/kernel';
import { Bus } from '@mnsim/bus';
import {
  AUDITOR_QUEUE,
  DEAD_LETTER_QUEUE,
  ORCHESTRATOR_QUEUE,
  kvmQueue,
  queueOf,
} from '@mnsim/runtime';
import type { Store } from '@mnsim/store';
import { STORE } from './store.provider.js';

export const CLUSTER = Symbol('CLUSTER');
export type ClusterTarget = { redisUrl: string; prefix: string } | null;

/** Every queue of the design: the orchestrator, the components, the auditor, the DLQ. */
export const CLUSTER_QUEUES = [
  ORCHESTRATOR_QUEUE,
  queueOf('task'),
  queueOf('mm'),
  queueOf('oom'),
  ...ARCHES.map(kvmQueue),
  AUDITOR_QUEUE,
  DEAD_LETTER_QUEUE,
];

const STATES = ['waiting', 'active', 'delayed', 'failed'] as const;

@Injectable()
export class MetricsService implements OnApplicationShutdown {
  private readonly bus: Bus | null;

  constructor(
    @Inject(STORE) private readonly store: Store,
    @Inject(CLUSTER) cluster: ClusterTarget,
  ) {
    this.bus = cluster ? new Bus({ redisUrl: cluster.redisUrl, prefix: cluster.prefix }) : null;
  }

  async render(): Promise<string> {
    const lines: string[] = [];
    const family = (name: string, type: 'gauge' | 'counter', help: string): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    };
    if (this.bus) {
      const per = await Promise.all(
        CLUSTER_QUEUES.map(async (name) => {
          const q = this.bus!.queue(name);
          const [counts, workers, completed, failed] = await Promise.all([
            q.getJobCounts(...STATES),
            q.getWorkersCount(),
            q.getMetrics('completed', 0, 0),
            q.getMetrics('failed', 0, 0),
          ]);
          return {
            name,
            counts,
            workers,
            processed: completed.meta.count,
            failed: failed.meta.count,
          };
        }),
      );
      family('mnsim_queue_jobs', 'gauge', 'Jobs in a queue, by state (queue depth).');
      for (const q of per) {
        for (const s of STATES)
          lines.push(`mnsim_queue_jobs{queue="${q.name}",state="${s}"} ${q.counts[s] ?? 0}`);
      }
      family('mnsim_queue_workers', 'gauge', 'Workers connected to a queue.');
      for (const q of per) lines.push(`mnsim_queue_workers{queue="${q.name}"} ${q.workers}`);
      family('mnsim_queue_processed_total', 'counter', "Jobs a queue's workers completed.");
      for (const q of per)
        lines.push(`mnsim_queue_processed_total{queue="${q.name}"} ${q.processed}`);
      family(
        'mnsim_queue_failed_total',
        'counter',
        'Jobs that failed on a queue (each failed attempt).',
      );
      for (const q of per) lines.push(`mnsim_queue_failed_total{queue="${q.name}"} ${q.failed}`);
    }
    family('mnsim_runs', 'gauge', 'Runs in the store, by status.');
    const counts = await this.store.countRuns();
    for (const status of ['running', 'completed', 'failed'] as const) {
      lines.push(`mnsim_runs{status="${status}"} ${counts[status]}`);
    }
    return lines.join('\n') + '\n';
  }

  async onApplicationShutdown(): Promise<void> {
    await this.bus?.close();
  }
}
