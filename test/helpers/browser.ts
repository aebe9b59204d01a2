// A real browser for the dashboard's tests: the system's Chromium (Debian's package; BGTASK_CHROMIUM
// names another), driven by playwright-core, which never downloads one. Without it the tests are
// skipped on a developer's machine, and fail with a sentence under CI=true.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";

export const CHROMIUM = process.env.BGTASK_CHROMIUM ?? "/usr/bin/chromium";

export function hasChromium(): boolean {
  return existsSync(CHROMIUM);
}

/** Fails under CI when there is no browser, instead of skipping the tests that need one. */
export function requireChromiumUnderCi(): void {
  if (!hasChromium() && process.env.CI === "true")
    throw new Error(`no Chromium at ${CHROMIUM}: install it (apt-get install -y chromium, as .ci/run does) or set BGTASK_CHROMIUM`);
}

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A fresh browser profile, removed with the browser by the returned close. */
export async function launchBrowser(): Promise<{ context: BrowserContext; downloads: string; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), "bgtask-chromium-"));
  const downloads = join(profile, "downloads");
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    acceptDownloads: true,
    downloadsPath: downloads,
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    downloads,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
