import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

/** Where Debian's chromium package puts the browser (scripts/install-servers.sh installs it). */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Debian's Chromium, headless, through playwright-core (which brings no
 * browser of its own). The flags keep it off the network (no background
 * requests, updates or sync, which a closed network refuses) and run it as
 * root where the tests do.
 */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** The directory for test artifacts (screenshots), `artifacts/` in the checkout (ignored by git); created on demand. */
export function artifactsDir(): string {
  const dir = join(process.cwd(), 'artifacts');
  mkdirSync(dir, { recursive: true });
  return dir;
}
