/** Real worker processes from dist/ (built once for all the tests that need it), one handle per replica. */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ARCHES, type Arch } from '@mnsim/kernel';
import { DATABASE_URL, REDIS_URL } from './harness.js';

const ROOT = join(import.meta.dirname, '../..');

/** The build's inputs (tsconfig.build.json, then Vite for ui/): sources but specs, and the configs. */
const BUILD_SOURCES = ['apps', 'libs', 'bench', 'ui'];
const BUILD_CONFIGS = ['tsconfig.json', 'tsconfig.build.json', 'package.json', 'ui/tsconfig.json'];
/** what tsc and Vite build from; the dashboard has its page, its components and its styles too */
const SOURCE_FILE = /(?<!\.spec)\.(ts|tsx|css|html)$/;
/** A file every build writes last-ish (tsc, then tsc-alias): its mtime is the build's. */
const BUILD_OUTPUT = join(ROOT, 'dist/apps/cli/src/main.js');
const BUILD_LOCK = join(ROOT, 'dist.build-lock');
const BUILD_LOCK_STALE_MS = 5 * 60_000;

function newestSourceMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMs(path));
    else if (SOURCE_FILE.test(entry.name)) {
      newest = Math.max(newest, statSync(path).mtimeMs);
    }
  }
  return newest;
}

/** Whether dist/ was built after the last change to any of its sources. */
function distIsFresh(): boolean {
  let built: number;
  try {
    built = statSync(BUILD_OUTPUT).mtimeMs;
  } catch {
    return false;
  }
  const configs = BUILD_CONFIGS.map((f) => statSync(join(ROOT, f)).mtimeMs);
  const sources = BUILD_SOURCES.map((d) => newestSourceMs(join(ROOT, d)));
  return built > Math.max(...configs, ...sources);
}

/**
 * Builds dist/ for the tests that run its processes, once for all of them: not at all when it is
 * newer than its sources (npm ci builds it), and under a lock shared by vitest's worker processes,
 * so that no test starts workers from a dist/ that another is rewriting.
 */
export function buildDist(): void {
  const deadline = Date.now() + BUILD_LOCK_STALE_MS;
  for (;;) {
    try {
      mkdirSync(BUILD_LOCK);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // a lock older than any build is a crashed run's: take it over
      const since = statSync(BUILD_LOCK, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
      if (Date.now() - since > BUILD_LOCK_STALE_MS) rmdirSync(BUILD_LOCK, { maxRetries: 0 });
      if (Date.now() > deadline) throw new Error(`${BUILD_LOCK} held for too long`, { cause: err });
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    if (!distIsFresh()) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'pipe' });
  } finally {
    rmdirSync(BUILD_LOCK);
  }
}

export interface ServiceSpec {
  name: string;
  /** the api is the HTTP API and the orchestrator */
  app: 'api' | 'auditor' | 'mmu-notifier' | 'oom-killer' | 'kvm';
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
    // the api (the orchestrator) on a free port of the loopback: replicas side by side
    MNSIM_API_PORT: '0',
  };
}

/** `replicas` of api (orchestrator), auditor, mm, oom and kvm-arm64; one kvm of every other arch. */
export async function startCluster(env: NodeJS.ProcessEnv, replicas: number): Promise<Worker[]> {
  const specs: ServiceSpec[] = [];
  for (let r = 0; r < replicas; r++) {
    specs.push(
      { name: `api#${r}`, app: 'api' },
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
