/**
 * A redis-server of the test's own, on a free port. By default it keeps nothing on disk: SIGKILL
 * it and start it again on the same port and it comes back empty (what a restart of the local
 * Redis does). With `appendonly` it keeps an append-only file in a temporary directory of its own
 * (`--dir`), which a start on the same port and directory loads again; `cleanup()` removes it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A port nobody listens on right now: bind port 0, read the port, close. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no port'))));
    });
  });
}

export interface PrivateRedisOptions {
  /** persist every write to an append-only file (`--appendonly yes`) in a directory of its own */
  appendonly?: boolean;
  /** the AOF's fsync policy; default Redis's own (everysec) */
  appendfsync?: 'always' | 'everysec' | 'no';
}

/** How long a graceful stop may take before the process is killed. */
const STOP_TIMEOUT_MS = 10_000;

export class PrivateRedis {
  private child: ChildProcess | null = null;
  private output = '';
  /** the working directory (--dir) of an appendonly Redis, kept across restarts */
  readonly dir: string | null;

  private constructor(
    readonly port: number,
    private readonly opts: PrivateRedisOptions,
  ) {
    this.dir = opts.appendonly ? mkdtempSync(join(tmpdir(), 'mnsim-redis-')) : null;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(opts: PrivateRedisOptions = {}): Promise<PrivateRedis> {
    const r = new PrivateRedis(await freePort(), opts);
    try {
      await r.start();
    } catch (err) {
      await r.cleanup();
      throw err;
    }
    return r;
  }

  private args(): string[] {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', ''];
    args.push('--daemonize', 'no');
    if (this.dir === null) return [...args, '--appendonly', 'no'];
    args.push('--appendonly', 'yes', '--dir', this.dir);
    if (this.opts.appendfsync) args.push('--appendfsync', this.opts.appendfsync);
    return args;
  }

  /** Starts redis-server on this port (and dir) and resolves once it accepts connections. */
  start(): Promise<void> {
    if (this.child) return Promise.reject(new Error('redis-server already running'));
    this.output = '';
    const child = spawn('redis-server', this.args(), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    return new Promise((resolve, reject) => {
      const onData = (d: Buffer): void => {
        this.output += d.toString();
        if (this.output.includes('Ready to accept connections')) resolve();
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.on('error', reject);
      child.on('exit', (code, signal) => {
        if (this.child === child) this.child = null;
        reject(new Error(`redis-server exited (${signal ?? code}): ${this.output}`));
      });
    });
  }

  /**
   * A graceful stop, as `systemctl restart`, `docker stop` or `redis-cli shutdown` do it:
   * SIGTERM, on which Redis writes and fsyncs its append-only file and exits. Killed if it takes
   * longer than STOP_TIMEOUT_MS. Resolves once the process is gone.
   */
  stop(): Promise<void> {
    return this.signal('SIGTERM');
  }

  /** SIGKILL: no shutdown, no save; resolves once the process is gone. */
  kill(): Promise<void> {
    return this.signal('SIGKILL');
  }

  /** Kills the server if it runs and removes its directory. */
  async cleanup(): Promise<void> {
    await this.kill();
    if (this.dir !== null) rmSync(this.dir, { recursive: true, force: true });
  }

  private signal(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      const timer =
        signal === 'SIGKILL' ? undefined : setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill(signal);
    });
  }
}
