/** Real worker processes from dist/ (built by the test's beforeAll), one handle per replica. */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { ARCHES, type Arch } from '@mnsim/kernel';
import { DATABASE_URL, REDIS_URL } from './harness.js';

const ROOT = join(import.meta.dirname, '../..');

export function buildDist(): void {
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'pipe' });
}

export interface ServiceSpec {
  name: string;
  app: 'orchestrator' | 'auditor' | 'mmu-notifier' | 'oom-killer' | 'kvm';
  arch?: Arch;
}

export class Worker {
  child: ChildProcess | null = null;
  output = '';
  constructor(
    readonly spec: ServiceSpec,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** Starts the process and resolves once it logs that it serves its queues. */
  start(): Promise<void> {
    const child = spawn(process.execPath, [join(ROOT, 'dist/apps', this.spec.app, 'src/main.js')], {
      env: { ...this.env, ...(this.spec.arch ? { KVM_ARCH: this.spec.arch } : {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    return new Promise((resolve, reject) => {
      const onData = (d: Buffer): void => {
        this.output += d.toString();
        if (this.output.length > 200_000) this.output = this.output.slice(-100_000);
        if (this.output.includes('"message":"serving"')) resolve();
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.on('exit', (code) =>
        reject(new Error(`${this.spec.name} exited ${code}: ${this.output}`)),
      );
    });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    this.child = null;
    this.output = '';
    if (!child || child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.on('exit', () => resolve());
      child.kill(signal);
    });
  }
}

export function clusterEnv(
  prefix: string,
  schema: string,
  redisUrl = REDIS_URL,
): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    MNSIM_REDIS_URL: redisUrl,
    MNSIM_DATABASE_URL: DATABASE_URL,
    MNSIM_DATABASE_SCHEMA: schema,
    MNSIM_QUEUE_PREFIX: prefix,
    MNSIM_CONCURRENCY: '16',
    MNSIM_LOCK_DURATION_MS: '2000',
    MNSIM_STALLED_INTERVAL_MS: '1000',
  };
}

/** `replicas` of orchestrator, auditor, mm, oom and kvm-arm64; one kvm of every other arch. */
export async function startCluster(env: NodeJS.ProcessEnv, replicas: number): Promise<Worker[]> {
  const specs: ServiceSpec[] = [];
  for (let r = 0; r < replicas; r++) {
    specs.push(
      { name: `orchestrator#${r}`, app: 'orchestrator' },
      { name: `auditor#${r}`, app: 'auditor' },
      { name: `mmu-notifier#${r}`, app: 'mmu-notifier' },
      { name: `oom-killer#${r}`, app: 'oom-killer' },
      { name: `kvm-arm64#${r}`, app: 'kvm', arch: 'arm64' },
    );
  }
  for (const arch of ARCHES)
    if (arch !== 'arm64') specs.push({ name: `kvm-${arch}`, app: 'kvm', arch });
  const workers = specs.map((s) => new Worker(s, env));
  // start in small groups: two cores, and Nest plus TypeORM take a moment each
  for (let i = 0; i < workers.length; i += 4) {
    await Promise.all(workers.slice(i, i + 4).map((w) => w.start()));
  }
  return workers;
}

export async function stopCluster(workers: Worker[]): Promise<void> {
  await Promise.all(workers.map((w) => w.kill('SIGTERM')));
}
