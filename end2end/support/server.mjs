// Starting the real signalbox binary (and Debian's Chromium, and the fake outside services
// of `signalbox-fake`) for the browser tests.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

export const root = resolve(import.meta.dirname, "../..");
const binary = process.env.SIGNALBOX_BIN ?? join(root, "target/debug/signalbox");
const fakeBinary = process.env.SIGNALBOX_FAKE_BIN ?? join(root, "target/debug/signalbox-fake");
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

/** Waits until `check()` is true (errors count as not yet), at most `ms`; else throws with `log`. */
async function waitFor(check, what, log, ms = 30_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      if (await check()) return;
    } catch {}
    if (Date.now() > deadline) throw new Error(`${what} not ready:\n${log.join("")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Spawns `command args` with `env`, its output collected into `log`. */
function run(command, args, env, log) {
  const child = spawn(command, args, { env });
  child.stdout.on("data", (d) => log.push(String(d)));
  child.stderr.on("data", (d) => log.push(String(d)));
  return child;
}

/**
 * Starts `signalbox-fake kind --port PORT ...args` on a free port and waits until
 * `ready(url)` is true. Returns its `url`, its `log` and a `stop()`.
 */
export async function startFake(kind, args, ready) {
  const log = [];
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = run(fakeBinary, [kind, "--port", String(port), ...args], process.env, log);
  await waitFor(() => ready(url), `fake ${kind} at ${url}`, log);
  return { url, log, stop: () => child.kill("SIGTERM") };
}

/**
 * Ingests `lines` (written to `logName`, read by `signalbox ingest` with `ingestArgs`) into a
 * fresh SQLite store, starts `signalbox serve` on it with `env` (and `serveEnv`, for the server
 * only) added, and launches Chromium. Returns what the tests need and a `stop()`.
 */
export async function start({ lines = [], logName = "app.log", ingestArgs = [], env: extra = {}, serveEnv = {} } = {}) {
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
    const file = join(dir, logName);
    writeFileSync(file, lines.join("\n"));
    execFileSync(binary, ["ingest", file, ...ingestArgs], { env });
  }
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const server = run(binary, ["serve"], { ...env, ...serveEnv, PORT: String(port) }, log);
  await waitFor(async () => (await fetch(`${baseUrl}/health/readiness`)).ok, `server at ${baseUrl}`, log);
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
