/**
 * A real browser for the tests of generated pages: Debian's `chromium`, driven headless through `playwright-core`
 * (which downloads nothing). `.ci/run` installs chromium when missing; elsewhere the tests skip (see `requires`).
 *
 * `openPage` records what a page asks of the network (every request that is not the page's own file or a data URL
 * is aborted and listed) and what it says on the console, so a test can assert there is neither.
 */
import { existsSync } from "node:fs";
import type { Browser, BrowserContextOptions, Page } from "playwright-core";
import { requires } from "./require.js";

export const CHROMIUM = process.env.PIPE_TEST_CHROMIUM ?? "/usr/bin/chromium";

export function hasChromium(): boolean {
  return requires("a Chromium browser", existsSync(CHROMIUM), "install Debian's chromium (apt-get install chromium; bash .ci/run does) or point PIPE_TEST_CHROMIUM at one");
}

export async function launch(): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
}

export interface OpenedPage {
  page: Page;
  /** Console errors and uncaught exceptions. */
  errors: string[];
  /** Requests that tried to leave the page. */
  requests: string[];
}

export async function openPage(browser: Browser, file: string, opts: BrowserContextOptions = {}): Promise<OpenedPage> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, ...opts });
  const page = await context.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  const own = "file://" + file;
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url === own || url.startsWith("data:")) return route.continue();
    requests.push(url);
    return route.abort();
  });
  await page.goto(own);
  return { page, errors, requests };
}

/** Waits until every plot of the page was embedded (or failed), as the page's own script counts them. */
export async function plotsSettled(page: Page): Promise<void> {
  await page.waitForSelector("body[data-plots-done]", { timeout: 30_000 });
}
