// Starting the real signalbox binary (and Debian's Chromium) for the browser tests.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

export const root = resolve(import.meta.dirname, "../..");
const binary = process.env.SIGNALBOX_BIN ?? join(root, "target/debug/signalbox");
const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** A log line stamped `minutesAgo` minutes before now (UTC), as `signalbox ingest` reads it. */
export function line(minutesAgo, text) {
  const at = new Date(Date.now() - minutesAgo * 60_000).toISOString().replace("T", " ").slice(0, 19);
  return `${at} ${text}`;
}

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.on("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

/**
 * Ingests `lines` into a fresh SQLite store, starts `signalbox serve` on it with `env` added,
 * and launches Chromium. Returns what the tests need and a `stop()`.
 */
export async function start({ lines = [], env: extra = {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "signalbox-e2e-"));
  const log = [];
  const env = {
    ...process.env,
    DATABASE_URL: `sqlite://${join(dir, "e2e.db")}`,
    LEPTOS_SITE_ROOT: join(root, "target/site"),
    ERROR_MONITORING_ENABLED: "false",
    LOG_LEVEL: "warn",
    ...extra,
  };
  if (lines.length) {
    const file = join(dir, "app.log");
    writeFileSync(file, lines.join("\n"));
    execFileSync(binary, ["ingest", file], { env });
  }
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const server = spawn(binary, ["serve"], { env: { ...env, PORT: String(port) } });
  server.stdout.on("data", (d) => log.push(String(d)));
  server.stderr.on("data", (d) => log.push(String(d)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${baseUrl}/health/readiness`)).ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`server not ready at ${baseUrl}:\n${log.join("")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
  return {
    baseUrl,
    browser,
    env,
    binary,
    log,
    async stop() {
      await browser.close();
      server.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A page that records page errors and console errors into `problems`. */
export async function watchedPage(context) {
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`);
  });
  return { page, problems };
}

/** Waits until the page has hydrated (the refresh bar's pause button shows). */
export async function hydrated(page) {
  await page.getByRole("button", { name: /auto-refresh/ }).waitFor();
}
