/**
 * docker-compose.yml, as design.md describes it and the cluster's table (topology.ts in
 * @mnsim/bus) lists it: Redis, Postgres and one container per process of the table (the api is
 * also the orchestrator), kvm once per architecture, each running its app's build with an
 * environment that app accepts and the variables it needs to join the cluster.
 * Every service restarts on its own and has a health check (issue 14), and Redis keeps its data
 * in an append-only file. Where a compose command is installed, `config` must accept the file too.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ARCHES } from '@mnsim/kernel';
import { CLUSTER_APPS, CLUSTER_PROCESSES, parseClusterConfig } from '@mnsim/bus';
import { loadApiConfig } from '@mnsim/http';

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

describe('docker-compose.yml', () => {
  it("has Redis, Postgres and a service per process of the cluster's table, nothing else", () => {
    expect(Object.keys(services).sort()).toEqual(
      ['redis', 'postgres', ...CLUSTER_PROCESSES.map((p) => p.name)].sort(),
    );
  });

  it.each(CLUSTER_APPS.map((a) => [a.name, a] as const))(
    'runs %s once, or once per architecture (KVM_ARCH) if the table says so',
    (_, app) => {
      const running = Object.values(services).filter((s) => s.command?.includes(app.entry));
      const arches = running.map((s) => s.environment?.KVM_ARCH);
      if (app.perArch) expect(arches.sort()).toEqual([...ARCHES].sort());
      else expect(arches).toEqual([undefined]);
    },
  );

  it.each(CLUSTER_PROCESSES.map((p) => [p.name, p] as const))(
    '%s runs its app, configured',
    (_, p) => {
      const s = services[p.name];
      expect(s.command).toEqual(['node', p.app.entry]);
      expect(existsSync(join(ROOT, p.app.entry)), `${p.app.entry} (npm ci builds it)`).toBe(true);
      const env = s.environment ?? {};
      // every app takes the workers' variables, validated as theirs; a per-arch one its KVM_ARCH
      const config = parseClusterConfig(env, { kvmArch: p.app.perArch });
      expect(config.KVM_ARCH).toBe(p.arch ?? undefined);
      expect(env).toMatchObject(p.env);
      expect(config.MNSIM_REDIS_URL).toBe('redis://redis:6379');
      expect(config.MNSIM_DATABASE_URL).toMatch(/^postgres:\/\/[^@]+@postgres:5432\//);
      // given explicitly where the app's own defaults are not the cluster's (the api's)
      for (const name of p.app.clusterEnv) expect(env, name).toHaveProperty(name);
      if (p.app.listens) {
        const api = loadApiConfig(env);
        expect(api.store).toMatchObject({ url: env.MNSIM_DATABASE_URL });
        expect(api.cluster).toMatchObject({ redisUrl: env.MNSIM_REDIS_URL });
        // the api is the cluster's orchestrator
        expect(api.orchestrator).toMatchObject({
          MNSIM_REDIS_URL: 'redis://redis:6379',
          MNSIM_QUEUE_PREFIX: 'mnsim',
        });
      }
    },
  );

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
    for (const p of CLUSTER_PROCESSES) {
      const s = services[p.name];
      if (p.app.listens) {
        expect(s.healthcheck?.test?.join(' '), p.name).toMatch(
          /fetch\('http:\/\/127\.0\.0\.1:' \+ process\.env\.MNSIM_API_PORT \+ '\/health'/,
        );
        continue;
      }
      expect(s.environment?.MNSIM_HEARTBEAT_FILE, p.name).toMatch(/^\//);
      expect(s.healthcheck?.test?.join(' '), p.name).toContain(
        'statSync(process.env.MNSIM_HEARTBEAT_FILE',
      );
    }
    // the apps start only once Redis and Postgres answer
    for (const p of CLUSTER_PROCESSES) {
      expect(services[p.name].depends_on, p.name).toEqual({
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
