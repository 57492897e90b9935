import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

/** Debian's Chromium, installed by `npm run setup` (apt package `chromium`). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Launches headless Chromium with the flags that work on these machines (as root, no network). */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: run "npm run setup" (it installs Debian's chromium package)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    env: utf8Environment(),
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/**
 * The environment with a UTF-8 locale: Chromium opens a chosen file whose path is not ASCII
 * (侵权截图.png) only under one, and a CI shell may have none (LANG unset is POSIX).
 */
function utf8Environment(): Record<string, string> {
  const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
  const locale = env.LC_ALL || env.LC_CTYPE || env.LANG || "";
  return /utf-?8/i.test(locale) ? env : { ...env, LC_ALL: "C.UTF-8" };
}
