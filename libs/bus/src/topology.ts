/**
 * The cluster's processes, in one table: each app, its built main, whether it runs once per
 * architecture (KVM_ARCH), the queues it serves and what a client says when none of them is
 * alive, and what it must be given to join the cluster. Everything that starts, checks or counts
 * the cluster reads it: `npm run cluster` (scripts/cluster.mjs imports the built module), the
 * docker-compose.yml test, the bench, the api's /metrics and the cluster client's checks
 * (cluster-watch.ts). Only the kernel's arches and the runtime's queue names come in, so that the
 * supervisor loads neither BullMQ nor Nest to read it.
 */
import { ARCHES, type Arch } from '@mnsim/kernel';
import { AUDITOR_QUEUE, COMPONENT_QUEUES, ORCHESTRATOR_QUEUE, kvmQueue } from '@mnsim/runtime';

export type AppName = 'api' | 'auditor' | 'mmu-notifier' | 'oom-killer' | 'kvm';

/** A queue an app serves, and the words a waiting client gives up with when nothing serves it. */
export interface ServedQueue {
  readonly queue: string;
  /** who is missing, in the words of a user who has to start it */
  readonly absent: string;
}

/** The variables an app must be given to join the cluster when its own defaults are others. */
export type ClusterUrlVariable = 'MNSIM_REDIS_URL' | 'MNSIM_DATABASE_URL';

interface AppCommon {
  /** its folder in apps/ and its logs' context */
  readonly name: AppName;
  /** its main, built, from the repository root */
  readonly entry: string;
  /**
   * it listens on MNSIM_API_HOST:MNSIM_API_PORT and answers GET /health; the others have no port
   * and touch MNSIM_HEARTBEAT_FILE for their health check
   */
  readonly listens: boolean;
  /**
   * given explicitly, as its defaults are `mnsim serve`'s (an SQLite store, no cluster); the
   * workers' defaults are the cluster's
   */
  readonly clusterEnv: readonly ClusterUrlVariable[];
}

/** One app of the cluster: one process (per replica), or one per architecture with KVM_ARCH. */
export type ClusterApp = AppCommon &
  (
    | { readonly perArch: false; readonly queues: readonly ServedQueue[] }
    | { readonly perArch: true; readonly queues: (arch: Arch) => readonly ServedQueue[] }
  );

/** The apps, in the order `npm run cluster` starts them. */
export const CLUSTER_APPS: readonly ClusterApp[] = [
  {
    // the HTTP API and, given a cluster, the orchestrator of its runs
    name: 'api',
    entry: 'dist/apps/api/src/main.js',
    perArch: false,
    queues: [
      { queue: ORCHESTRATOR_QUEUE, absent: 'no orchestrator is alive (the api serves it)' },
      { queue: COMPONENT_QUEUES.task, absent: 'no api is alive (it serves it)' },
    ],
    listens: true,
    clusterEnv: ['MNSIM_REDIS_URL', 'MNSIM_DATABASE_URL'],
  },
  {
    name: 'auditor',
    entry: 'dist/apps/auditor/src/main.js',
    perArch: false,
    queues: [{ queue: AUDITOR_QUEUE, absent: 'no auditor worker is alive' }],
    listens: false,
    clusterEnv: [],
  },
  {
    name: 'mmu-notifier',
    entry: 'dist/apps/mmu-notifier/src/main.js',
    perArch: false,
    queues: [{ queue: COMPONENT_QUEUES.mm, absent: 'no mmu-notifier worker is alive' }],
    listens: false,
    clusterEnv: [],
  },
  {
    name: 'oom-killer',
    entry: 'dist/apps/oom-killer/src/main.js',
    perArch: false,
    queues: [{ queue: COMPONENT_QUEUES.oom, absent: 'no oom-killer worker is alive' }],
    listens: false,
    clusterEnv: [],
  },
  {
    name: 'kvm',
    entry: 'dist/apps/kvm/src/main.js',
    perArch: true,
    queues: (arch) => [
      { queue: kvmQueue(arch), absent: `no kvm worker with KVM_ARCH=${arch} is alive` },
    ],
    listens: false,
    clusterEnv: [],
  },
];

/** One process of one replica of the cluster: an app, of one arch for a per-arch app. */
export interface ClusterProcess {
  /** the app's name, `kvm-<arch>` for a per-arch one: the supervisor's label, compose's service */
  readonly name: string;
  readonly app: ClusterApp;
  readonly arch: Arch | null;
  /** what makes the app this process: KVM_ARCH for a per-arch one */
  readonly env: Readonly<Record<string, string>>;
  readonly queues: readonly ServedQueue[];
}

/** The processes of one replica, in CLUSTER_APPS's order, a per-arch app once per arch. */
export const CLUSTER_PROCESSES: readonly ClusterProcess[] = CLUSTER_APPS.flatMap(
  (app): ClusterProcess[] =>
    app.perArch
      ? ARCHES.map((arch) => ({
          name: `${app.name}-${arch}`,
          app,
          arch,
          env: { KVM_ARCH: arch },
          queues: app.queues(arch),
        }))
      : [{ name: app.name, app, arch: null, env: {}, queues: app.queues }],
);

/** The process an app runs as: of `arch` for the per-arch app (whose arch it needs). */
export function processOf(app: AppName, arch: Arch | null = null): ClusterProcess {
  const found = CLUSTER_PROCESSES.find(
    (p) => p.app.name === app && (p.arch === null || p.arch === arch),
  );
  if (!found)
    throw new Error(`no process of app ${app}${arch ? ` for ${arch}` : ''} in the cluster`);
  return found;
}

/** Every queue a process of the cluster serves, in CLUSTER_PROCESSES's order. */
export const SERVED_QUEUES: readonly string[] = CLUSTER_PROCESSES.flatMap((p) =>
  p.queues.map((q) => q.queue),
);

const servers = new Map<string, ServedQueue & { process: ClusterProcess }>(
  CLUSTER_PROCESSES.flatMap((proc) =>
    proc.queues.map((q) => [q.queue, { process: proc, ...q }] as const),
  ),
);

/** The process that serves `queue`, and the words for its absence; undefined for no process's. */
export function serverOf(queue: string): (ServedQueue & { process: ClusterProcess }) | undefined {
  return servers.get(queue);
}

/**
 * The queue workers' concurrency (MNSIM_CONCURRENCY), of every app: its default and range, as the
 * workers' configuration validates it and the bench takes it.
 */
export const WORKER_CONCURRENCY = { default: 32, min: 1, max: 1000 } as const;
