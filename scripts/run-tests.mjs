#!/usr/bin/env node
// Runs the whole vitest suite and prints the plain closing line CI reads ("N passed, N failed"),
// taken from vitest's JSON report. Exits non-zero on any failure and when no test ran at all, so
// an empty run can never pass as green.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'mnsim-tests-'));
const report = join(dir, 'report.json');
const res = spawnSync(
  'npx',
  [
    'vitest',
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${report}`,
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit' },
);
let passed = 0;
let failed = 0;
let skipped = 0;
try {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  passed = r.numPassedTests;
  // a suite that failed on its own (an import error, a failing hook) has no failed test in it:
  // count it once; otherwise count failed tests only (their suites fail with them)
  failed = r.numFailedTests > 0 ? r.numFailedTests : (r.numFailedTestSuites ?? 0);
  skipped = (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
} catch (err) {
  console.error(`mnsim tests: no JSON report from vitest (${err.message})`);
  failed = Math.max(failed, 1);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ''));
if (res.status !== 0 || failed > 0 || passed === 0) process.exit(res.status || 1);
