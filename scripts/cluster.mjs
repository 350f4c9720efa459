#!/usr/bin/env node
// `npm run cluster [-- --replicas N]`: every mnsim worker (kvm once per architecture) and the api
// (the HTTP API and the orchestrator) as child processes from dist/, in the foreground, against
// MNSIM_REDIS_URL and MNSIM_DATABASE_URL (defaults redis://127.0.0.1:6379,
// postgres://postgres@127.0.0.1:5432/postgres). N replicas of each worker and of the api: the
// first api listens on MNSIM_API_HOST:MNSIM_API_PORT (default 127.0.0.1:8080), replica k on the
// port k-1 above it (all on any free port when MNSIM_API_PORT is 0). SIGTERM or Ctrl-C stops
// them all. Build first: npm run build.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ARCHES = ['arm64', 'x86', 'mips', 'powerpc-book3s-hv', 'powerpc-book3s-pr', 'powerpc-e500'];
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function usage(msg) {
  process.stderr.write(`mnsim cluster: ${msg}\nusage: npm run cluster [-- --replicas N]\n`);
  process.exit(2);
}

let replicas = 1;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--replicas') {
    replicas = Number(args[++i]);
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > 16) {
      usage(`--replicas must be an integer from 1 to 16, got ${args[i]}`);
    }
  } else usage(`unknown argument ${args[i]}`);
}

// The workers' defaults, given to the api too: without them it would serve an SQLite store and
// orchestrate nothing (its defaults as `mnsim serve`), not the cluster's Postgres and Redis.
const clusterUrls = {
  MNSIM_REDIS_URL: process.env.MNSIM_REDIS_URL || 'redis://127.0.0.1:6379',
  MNSIM_DATABASE_URL:
    process.env.MNSIM_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/postgres',
};

/** The api replica's port: each its own. A value that is not a port is left to the api to refuse. */
function apiPort(replica) {
  const base = process.env.MNSIM_API_PORT?.trim() || '8080';
  if (replica === 0 || !/^\d{1,5}$/.test(base) || Number(base) === 0) return base;
  return String(Number(base) + replica);
}

const services = [
  { name: 'api', app: 'api', env: (r) => ({ ...clusterUrls, MNSIM_API_PORT: apiPort(r) }) },
  { name: 'auditor', app: 'auditor' },
  { name: 'mmu-notifier', app: 'mmu-notifier' },
  { name: 'oom-killer', app: 'oom-killer' },
  ...ARCHES.map((arch) => ({ name: `kvm-${arch}`, app: 'kvm', env: { KVM_ARCH: arch } })),
];
for (const s of services) {
  if (!existsSync(join(root, 'dist/apps', s.app, 'src/main.js'))) {
    usage(`dist/apps/${s.app}/src/main.js is missing: run npm run build first`);
  }
}

const children = new Set();
let stopping = false;
for (const s of services) {
  for (let r = 0; r < replicas; r++) {
    const label = replicas > 1 ? `${s.name}#${r + 1}` : s.name;
    const child = spawn(process.execPath, [join(root, 'dist/apps', s.app, 'src/main.js')], {
      env: { ...process.env, ...(typeof s.env === 'function' ? s.env(r) : s.env) },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    children.add(child);
    child.on('exit', (code, signal) => {
      children.delete(child);
      if (!stopping) {
        process.stderr.write(`mnsim cluster: ${label} exited (${signal ?? code}); stopping all\n`);
        stop(code === 2 ? 2 : 1);
      } else if (children.size === 0) process.exit(process.exitCode ?? 0);
    });
  }
}
process.stderr.write(
  `mnsim cluster: ${children.size} processes (${replicas} replica${replicas > 1 ? 's' : ''} of each worker and of the api); Ctrl-C stops them\n`,
);

function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  process.exitCode = code;
  for (const c of children) c.kill('SIGTERM');
  if (children.size === 0) process.exit(code);
  // a child that does not stop within 10 s is killed
  setTimeout(() => {
    for (const c of children) c.kill('SIGKILL');
  }, 10_000).unref();
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));
