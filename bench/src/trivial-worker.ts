/**
 * A trivial BullMQ worker process for the distributed benchmark's ceiling measured in the
 * cluster's process layout: it serves the queues the matching mnsim app serves, and each job
 * only adds its chain's next hop (to the next queue) and returns. Chains have fixed lengths, so
 * the processes need no shared counter: chain c of `chains` has hops/chains hops, the first
 * hops % chains chains one more. The benchmark sends the chains more than once (rounds: the
 * first ones warm the processes up), so the round is part of each job.
 *
 * Env: MNSIM_REDIS_URL, MNSIM_QUEUE_PREFIX, MNSIM_CONCURRENCY, BENCH_SERVE (the queues served,
 * comma-separated), BENCH_QUEUES (every queue of the ring, in order), BENCH_HOPS, BENCH_CHAINS.
 */
import { fileURLToPath } from 'node:url';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { DEFAULT_JOB_OPTIONS, workerOptions } from '@mnsim/bus';

function env(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === '') throw new Error(`${name} is not set`);
  return v;
}

/** The channel on which the last hop of each chain is announced. */
export function chainDoneChannel(prefix: string): string {
  return `${prefix}:chain-done`;
}

/** The job id of hop `k` of a chain in a round. */
export function hopJobId(round: number, chain: number, k: number): string {
  return `r${round}-c${chain}-${k}`;
}

/** The hops of chain `chain` when `hops` are split over `chains`. */
export function chainLength(chain: number, hops: number, chains: number): number {
  return Math.floor(hops / chains) + (chain < hops % chains ? 1 : 0);
}

async function main(): Promise<void> {
  const redisUrl = env('MNSIM_REDIS_URL');
  const prefix = env('MNSIM_QUEUE_PREFIX');
  const concurrency = Number(env('MNSIM_CONCURRENCY'));
  const ring = env('BENCH_QUEUES').split(',');
  const hops = Number(env('BENCH_HOPS'));
  const chains = Number(env('BENCH_CHAINS'));
  const conn = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queues = ring.map((name) => new Queue(name, { connection: conn, prefix }));
  const workerConnections: Redis[] = [];
  const workers = env('BENCH_SERVE')
    .split(',')
    .map((name) => {
      const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
      workerConnections.push(connection);
      return new Worker(
        name,
        async (job) => {
          const { round, chain, k } = job.data as { round: number; chain: number; k: number };
          if (k + 1 >= chainLength(chain, hops, chains)) {
            // the chain's last hop: tell the benchmark (one message per chain, naming its round)
            await conn.publish(chainDoneChannel(prefix), String(round));
            return;
          }
          await queues[(chain + k + 1) % ring.length].add(
            'hop',
            { round, chain, k: k + 1 },
            { ...DEFAULT_JOB_OPTIONS, jobId: hopJobId(round, chain, k + 1) },
          );
        },
        // the mnsim workers' options, metrics included (the benchmark counts hops with them)
        { connection, prefix, ...workerOptions({ concurrency }) },
      );
    });
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  process.stdout.write('serving\n');
  process.once('SIGTERM', () => {
    void (async () => {
      await Promise.all(workers.map((w) => w.close()));
      await Promise.all(queues.map((q) => q.close()));
      for (const c of [...workerConnections, conn]) c.disconnect();
      process.exit(0);
    })();
  });
}

// imported by the benchmark for chainDoneChannel: serve only when run as the process's script
if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
