/**
 * Debian's Chromium, headless, as the benchmark and the browser tests launch it (never a browser
 * downloaded by Playwright). On a closed network it must not reach out: without the
 * background-networking switches it keeps trying (component updates, sync, QUIC probes), and
 * those connections are refused. Playwright gives each launch a fresh --user-data-dir of its own
 * (it refuses one among the arguments) and removes it when the browser closes.
 */
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}
