#!/usr/bin/env node
// `npm run cluster [-- --replicas N]`: every mnsim worker (kvm once per architecture) and the api
// (the HTTP API and the orchestrator) as child processes from dist/, in the foreground, against
// MNSIM_REDIS_URL and MNSIM_DATABASE_URL (defaults redis://127.0.0.1:6379,
// postgres://postgres@127.0.0.1:5432/postgres). N replicas of each worker and of the api: the
// first api listens on MNSIM_API_HOST:MNSIM_API_PORT (default 127.0.0.1:8080), replica k on the
// port k-1 above it (all on any free port when MNSIM_API_PORT is 0). Build first: npm run build.
//
// It supervises them: a process that exits without being asked to is started again after a
// backoff (supervisor.mjs: 1 s doubling to 30 s, from 1 s again once it stayed up a minute), with
// one line on stderr per restart; one that exits with status 2 (bad configuration) is not, and the
// cluster stops with its reason and exits 2. SIGINT or SIGTERM stops them all (SIGKILL for those
// still there after 10 s; a second signal at once) and exits 0 once every one is gone. Each is
// started with an IPC channel and stops on its own when the channel goes (stopWhenSupervisorGone
// in @mnsim/bus): a supervisor killed outright leaves no process behind either.
//
// Why a script of its own and not a process manager: pm2, the well-kept one, runs its processes
// under a daemon of its own with state in the home directory (`npm run cluster` is a foreground
// command that leaves nothing running once it returns), and caps its exponential restart backoff
// at 15 s; what is needed here is the hundred lines below.
//
// What it starts is the cluster's table (libs/bus/src/topology.ts), imported from the build as
// the apps are: the typed module the client, the bench and the compose test read too, whose queue
// names and arches come from the runtime and the kernel (a JSON file beside it would have to
// repeat them). The script cannot run without the build anyway.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describeExit, onUnexpectedExit } from './supervisor.mjs';

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

const TOPOLOGY = 'dist/libs/bus/src/topology.js';
if (!existsSync(join(root, TOPOLOGY))) usage(`${TOPOLOGY} is missing: run npm run build first`);
/** @type {typeof import('../libs/bus/src/topology.ts')} */
const { CLUSTER_PROCESSES } = await import(pathToFileURL(join(root, TOPOLOGY)).href);

/** The environment of replica `r` of process `p`: its own (KVM_ARCH), the cluster's, its port. */
function envOf(p, r) {
  const env = { ...p.env };
  for (const name of p.app.clusterEnv) env[name] = clusterUrls[name];
  if (p.app.listens) env.MNSIM_API_PORT = apiPort(r);
  return env;
}
for (const p of CLUSTER_PROCESSES) {
  if (!existsSync(join(root, p.app.entry))) {
    usage(`${p.app.entry} is missing: run npm run build first`);
  }
}

/** Every process of the cluster, alive or waiting for its restart. */
const procs = [];
for (const p of CLUSTER_PROCESSES) {
  for (let r = 0; r < replicas; r++) {
    procs.push({
      label: replicas > 1 ? `${p.name}#${r + 1}` : p.name,
      script: join(root, p.app.entry),
      env: { ...process.env, ...envOf(p, r) },
      child: null,
      startedAt: 0,
      failures: 0,
      restartTimer: null,
      /** the end of its stderr: a bad configuration's reason is its last line */
      stderrTail: '',
    });
  }
}

const log = (line) => process.stderr.write(`mnsim cluster: ${line}\n`);
let stopping = false;

function start(p) {
  p.restartTimer = null;
  p.stderrTail = '';
  p.startedAt = Date.now();
  const child = spawn(process.execPath, [p.script], {
    env: p.env,
    // stderr through here, line by line, so that a bad configuration's reason can be told
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  p.child = child;
  let partial = '';
  child.stderr.on('data', (d) => {
    const text = partial + d.toString();
    const end = text.lastIndexOf('\n') + 1;
    partial = text.slice(end);
    if (end > 0) process.stderr.write(text.slice(0, end));
    p.stderrTail = (p.stderrTail + text.slice(0, end)).slice(-4096);
  });
  let gone = false;
  const onGone = (code, signal) => {
    if (gone) return;
    gone = true;
    if (partial) process.stderr.write(`${partial}\n`);
    p.stderrTail = (p.stderrTail + partial).slice(-4096);
    p.child = null;
    exited(p, child.pid, code, signal);
  };
  // 'close', not 'exit': its stderr is read to the end by then
  child.on('close', onGone);
  child.on('error', (err) => {
    // not started at all (no pid): as if it exited at once
    if (child.pid === undefined) {
      log(`${p.label} could not be started: ${err.message}`);
      onGone(1, null);
    }
  });
  if (child.pid !== undefined) log(`${p.label} started (pid ${child.pid})`);
}

/** Once every process is gone, after a stop. */
function exitOnceAllGone() {
  if (procs.some((p) => p.child !== null)) return;
  log('stopped');
  process.exit(process.exitCode ?? 0);
}

function exited(p, pid, code, signal) {
  if (stopping) {
    exitOnceAllGone();
    return;
  }
  const decision = onUnexpectedExit({ code, signal, upMs: Date.now() - p.startedAt }, p.failures);
  if (decision.action === 'stop') {
    const reason = p.stderrTail.trim().split('\n').pop() || 'no reason given';
    log(`${p.label} exited with status 2, a bad configuration (${reason}); stopping all`);
    stop(2);
    return;
  }
  p.failures = decision.failures;
  const up = ((Date.now() - p.startedAt) / 1000).toFixed(1);
  log(
    `${p.label} (pid ${pid}) exited (${describeExit(code, signal)}) after ${up} s; ` +
      `restarting in ${decision.delayMs / 1000} s`,
  );
  p.restartTimer = setTimeout(() => start(p), decision.delayMs);
}

function stop(code) {
  if (stopping) {
    // a second Ctrl-C: no more waiting
    for (const p of procs) p.child?.kill('SIGKILL');
    return;
  }
  stopping = true;
  process.exitCode = code;
  const live = procs.filter((p) => p.child !== null);
  log(`stopping ${live.length} process${live.length === 1 ? '' : 'es'}`);
  for (const p of procs) {
    if (p.restartTimer) clearTimeout(p.restartTimer);
    p.restartTimer = null;
    p.child?.kill('SIGTERM');
  }
  exitOnceAllGone();
  // a child that does not stop within 10 s is killed; the exit waits for every one's 'close'
  setTimeout(() => {
    for (const p of procs) p.child?.kill('SIGKILL');
  }, 10_000).unref();
}
process.on('SIGINT', () => stop(0));
process.on('SIGTERM', () => stop(0));

for (const p of procs) start(p);
log(
  `${procs.length} processes (${replicas} replica${replicas > 1 ? 's' : ''} of each worker and of the api); Ctrl-C stops them`,
);
