/**
 * docker-compose.yml, as design.md describes it: Redis, Postgres and one container per mnsim app
 * (the api is also the orchestrator), kvm once per architecture, each running its app's build with an environment that app accepts.
 * Where a compose command is installed, `config` must accept the file too.
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
}

const compose = parse(readFileSync(FILE, 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
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
