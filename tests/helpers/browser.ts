import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';
import { TEST_OUTPUT } from './paths.js';

/** Debian's chromium by default; CHROMIUM_PATH points elsewhere (a Playwright download, Chrome for Testing). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SCREENSHOTS = path.join(TEST_OUTPUT, 'screenshots');

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/**
 * Failed loads that are the browser's doing, not the app's. Chromium may ask for /favicon.ico on its own when a page
 * has not declared an icon yet (the renderer declares favicon.svg, which the server has); a 404 for it says nothing
 * about the studio, so it is not counted.
 */
function ignored(message: ConsoleMessage): boolean {
  const url = message.location().url;
  return /Failed to load resource/.test(message.text()) && /\/favicon\.(ico|svg)(\?|$)/.test(url);
}

/** Reports a CSP violation from inside the page; installed before any page script runs, on every navigation. */
const CSP_LISTENER = `
  document.addEventListener('securitypolicyviolation', (event) => {
    const report = globalThis.__facepartsCspViolation;
    if (typeof report === 'function') {
      void report([event.effectiveDirective, event.blockedURI, event.sourceFile + ':' + event.lineNumber].join(' '));
    }
  });
`;

export interface StudioPage {
  context: BrowserContext;
  page: Page;
  /** Console errors, uncaught page errors and CSP violations seen on this page, as readable lines. */
  problems: string[];
}

export interface StudioBrowser {
  browser: Browser;
  /** Everything every page opened with the default collector reported, over the whole run. */
  problems: string[];
  /** A page in a fresh context (1280x720, no shared storage), watched for console errors and CSP violations. */
  newPage(options?: { collect?: string[] }): Promise<StudioPage>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<StudioBrowser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: ARGS });
  const problems: string[] = [];

  async function newPage(options: { collect?: string[] } = {}): Promise<StudioPage> {
    const own: string[] = [];
    const sinks = [own, options.collect ?? problems];
    const report = (line: string): void => {
      for (const sink of sinks) sink.push(line);
    };
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    await context.exposeFunction('__facepartsCspViolation', (detail: string) => report(`CSP violation: ${detail}`));
    await context.addInitScript(CSP_LISTENER);
    const page = await context.newPage();
    page.on('console', (message) => {
      const text = message.text();
      if (message.type() === 'error' && !ignored(message)) {
        report(`console.error: ${text} (${message.location().url || page.url()})`);
      } else if (/Content[- ]Security[- ]Policy/i.test(text)) {
        report(`console ${message.type()}: ${text}`);
      }
    });
    page.on('pageerror', (error) => report(`page error: ${error.message}`));
    return { context, page, problems: own };
  }

  return {
    browser,
    problems,
    newPage,
    close: () => browser.close(),
  };
}

/** Saves a full-window screenshot to test-output/screenshots/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, animations: 'disabled' });
  return file;
}
