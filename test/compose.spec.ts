/**
 * docker-compose.yml, as design.md describes it: Redis, Postgres and one container per mnsim app
 * (the api is also the orchestrator), kvm once per architecture, each running its app's build with an environment that app accepts.
 * Every service restarts on its own and has a health check (issue 14), and Redis keeps its data
 * in an append-only file. Where a compose command is installed, `config` must accept the file too.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ARCHES } from '@mnsim/kernel';
import { parseClusterConfig } from '@mnsim/bus';
import { loadApiConfig } from '../apps/api/src/config.js';

const ROOT = join(import.meta.dirname, '..');
const FILE = join(ROOT, 'docker-compose.yml');

interface Service {
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  restart?: string;
  depends_on?: Record<string, { condition?: string }>;
  healthcheck?: { test?: string[]; interval?: string; timeout?: string; retries?: number };
}

const compose = parse(readFileSync(FILE, 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};
const services = compose.services;

/** The mnsim apps and the service of each: kvm once per architecture. */
const APPS: Array<{ service: string; app: string; arch?: string }> = [
  { service: 'auditor', app: 'auditor' },
  { service: 'mmu-notifier', app: 'mmu-notifier' },
  { service: 'oom-killer', app: 'oom-killer' },
  ...ARCHES.map((arch) => ({ service: `kvm-${arch}`, app: 'kvm', arch })),
  { service: 'api', app: 'api' },
];

describe('docker-compose.yml', () => {
  it('has Redis, Postgres and one service per app, kvm once per architecture, nothing else', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['redis', 'postgres', ...APPS.map((a) => a.service)].sort(),
    );
  });

  it.each(APPS.map((a) => [a.service, a] as const))('%s runs its app, configured', (_, a) => {
    const s = services[a.service];
    const script = `dist/apps/${a.app}/src/main.js`;
    expect(s.command).toEqual(['node', script]);
    expect(existsSync(join(ROOT, script)), `${script} (npm ci builds it)`).toBe(true);
    const env = s.environment ?? {};
    if (a.app === 'api') {
      const config = loadApiConfig(env);
      expect(config.store).toMatchObject({ url: env.MNSIM_DATABASE_URL });
      expect(config.cluster).toMatchObject({ redisUrl: env.MNSIM_REDIS_URL });
      // the api is the cluster's orchestrator
      expect(config.orchestrator).toMatchObject({
        MNSIM_REDIS_URL: 'redis://redis:6379',
        MNSIM_QUEUE_PREFIX: 'mnsim',
      });
    } else {
      const config = parseClusterConfig(env, { kvmArch: a.app === 'kvm' });
      expect(config.KVM_ARCH).toBe(a.arch);
      expect(config.MNSIM_REDIS_URL).toBe('redis://redis:6379');
      expect(config.MNSIM_DATABASE_URL).toMatch(/^postgres:\/\/[^@]+@postgres:5432\//);
    }
  });

  it.each(Object.keys(services))('%s restarts when it exits and has a health check', (name) => {
    const s = services[name];
    expect(s.restart).toBe('unless-stopped');
    const test = s.healthcheck?.test ?? [];
    expect(test[0], 'CMD form: no shell in between').toBe('CMD');
    expect(test.length).toBeGreaterThan(1);
    expect(s.healthcheck).toMatchObject({
      interval: expect.any(String),
      timeout: expect.any(String),
      retries: expect.any(Number),
    });
  });

  it('checks the api on its /health, each worker on the age of its heartbeat file', () => {
    expect(services.api.healthcheck?.test?.join(' ')).toMatch(
      /fetch\('http:\/\/127\.0\.0\.1:' \+ process\.env\.MNSIM_API_PORT \+ '\/health'/,
    );
    for (const a of APPS.filter((x) => x.app !== 'api')) {
      const s = services[a.service];
      expect(s.environment?.MNSIM_HEARTBEAT_FILE, a.service).toMatch(/^\//);
      expect(s.healthcheck?.test?.join(' '), a.service).toContain(
        'statSync(process.env.MNSIM_HEARTBEAT_FILE',
      );
    }
    // the apps start only once Redis and Postgres answer
    for (const a of APPS) {
      expect(services[a.service].depends_on, a.service).toEqual({
        redis: { condition: 'service_healthy' },
        postgres: { condition: 'service_healthy' },
      });
    }
    expect(services.redis.healthcheck?.test).toEqual(['CMD', 'redis-cli', 'ping']);
    expect(services.postgres.healthcheck?.test).toEqual(['CMD', 'pg_isready', '-U', 'postgres']);
  });

  it('runs Redis with appendonly on, its data in a volume', () => {
    const command = services.redis.command ?? [];
    expect(command[0]).toBe('redis-server');
    const i = command.lastIndexOf('--appendonly');
    expect(i).toBeGreaterThan(0);
    expect(command[i + 1]).toBe('yes');
    expect(services.redis.volumes).toContainEqual(expect.stringMatching(/^redisdata:\/data$/));
    expect(compose.volumes).toHaveProperty('redisdata');
  });

  it('publishes host ports on 127.0.0.1 only', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const port of s.ports ?? []) expect(port, name).toMatch(/^127\.0\.0\.1:/);
    }
  });

  // `docker compose` (v2) or `docker-compose` (v1), whichever this machine has
  const composeCommand = [['docker', 'compose'], ['docker-compose']].find(
    ([cmd, ...args]) => spawnSync(cmd, [...args, 'version']).status === 0,
  );

  it.skipIf(!composeCommand)(`passes ${composeCommand?.join(' ')} config`, () => {
    const [cmd, ...args] = composeCommand ?? [];
    const r = spawnSync(cmd, [...args, '-f', FILE, 'config', '--quiet'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
