// Debian's Chromium (`apt-get install -y chromium`; .ci/run installs it) driven by playwright-core: headless,
// no GPU (WebGL runs on SwiftShader), nothing reaching the network, a fresh profile per launch.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** A browser context on a fresh profile folder (playwright passes it as --user-data-dir). */
export async function launchChromium(
  profile = mkdtempSync(join(tmpdir(), 'chromium-')),
  viewport = { width: 1280, height: 900 },
): Promise<BrowserContext> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} not found: the browser tests use Debian's Chromium (apt-get install -y chromium), or set CHROMIUM_PATH`,
    );
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: [
      '--headless',
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
