// Generate Fix in the browser: a user opens an error group, presses Generate Fix and sees the
// draft pull request's link; the Fixes page lists it — against the real signalbox binary and
// the fake Anthropic and GitHub servers (`signalbox-fake anthropic|github`).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

const root = resolve(import.meta.dirname, "../..");
const binary = process.env.SIGNALBOX_BIN ?? join(root, "target/debug/signalbox");
const fakes = process.env.SIGNALBOX_FAKE_BIN ?? join(root, "target/debug/signalbox-fake");
const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const KEY = "sk-ant-fake-0000000000000000";
const TOKEN = "ghp_fake000000000000000000000000000000";

let dir, browser, baseUrl, githubUrl;
const children = [];
const logs = [];

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

async function waitFor(check, what, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not ready:\n${logs.join("")}`);
}

function start(cmd, args, env) {
  const child = spawn(cmd, args, { env });
  child.stdout.on("data", (d) => logs.push(String(d)));
  child.stderr.on("data", (d) => logs.push(String(d)));
  children.push(child);
  return child;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "signalbox-e2e-fix-"));
  const [anthropicPort, githubPort, port] = [await freePort(), await freePort(), await freePort()];
  start(fakes, ["anthropic", "--port", String(anthropicPort), "--key", KEY], process.env);
  start(fakes, ["github", "--port", String(githubPort), "--token", TOKEN, "--repository", "acme/shop"], process.env);
  githubUrl = `http://127.0.0.1:${githubPort}`;
  const anthropicUrl = `http://127.0.0.1:${anthropicPort}`;
  await waitFor(async () => (await fetch(`${anthropicUrl}/v1/models`)).status === 401, "fake Anthropic");
  await waitFor(async () => (await fetch(`${githubUrl}/repos/acme/shop`)).status === 401, "fake GitHub");

  const env = {
    ...process.env,
    DATABASE_URL: `sqlite://${join(dir, "e2e.db")}`,
    LEPTOS_SITE_ROOT: join(root, "target/site"),
    ERROR_MONITORING_ENABLED: "false",
    LOG_LEVEL: "warn",
  };
  // A Python error whose trace names the checkout service's db.py (in the fake's repository).
  const log = join(dir, "app.jsonl");
  const stack = [
    "Traceback (most recent call last):",
    '  File "/usr/local/lib/python3.12/site-packages/psycopg2/__init__.py", line 122, in connect',
    '  File "/app/checkout/db.py", line 31, in get_connection',
    "psycopg2.OperationalError: could not connect to server: Connection refused",
  ].join("\n");
  writeFileSync(
    log,
    JSON.stringify({
      time: "2026-11-27T10:00:01Z",
      level: "error",
      service: "checkout",
      msg: "psycopg2.OperationalError: could not connect to server: Connection refused",
      stack,
    }) + "\n",
  );
  execFileSync(binary, ["ingest", log, "--service", "checkout"], { env });
  baseUrl = `http://127.0.0.1:${port}`;
  start(binary, ["serve"], {
    ...env,
    PORT: String(port),
    ANTHROPIC_API_KEY: KEY,
    ANTHROPIC_BASE_URL: anthropicUrl,
    GITHUB_TOKEN: TOKEN,
    GITHUB_API_URL: githubUrl,
    GITHUB_REPOSITORY: "acme/shop",
    AUTO_FIX_ENABLED: "true",
  });
  await waitFor(async () => (await fetch(`${baseUrl}/health/readiness`)).ok, "signalbox");
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close();
  for (const child of children) child.kill("SIGTERM");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("Generate Fix shows the draft pull request's link; the Fixes page lists it", async () => {
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`);
  });
  await page.goto(`${baseUrl}/`);
  await page.getByRole("link", { name: /could not connect to server/ }).first().click();
  await page.waitForURL(/\/errors\//);
  await page.waitForLoadState("networkidle");
  await page.getByText("No fix generated for this group yet.").waitFor();

  await page.getByRole("button", { name: "Generate Fix" }).click();
  const link = page.getByTestId("fix-pr-link");
  await link.waitFor({ timeout: 30_000 });
  assert.match(await link.getAttribute("href"), /\/pull\/1$/);
  assert.match(await page.getByTestId("fix-root-cause").textContent(), /checkout\/db\.py:31/);
  assert.match(await page.getByTestId("fix-diff").textContent(), /\+\s+try:/);

  // The pull request exists on the fake GitHub, as a draft, from the right branch.
  const pulls = await (
    await fetch(`${githubUrl}/repos/acme/shop/pulls?state=open`, {
      headers: { authorization: `Bearer ${TOKEN}`, "user-agent": "e2e" },
    })
  ).json();
  assert.equal(pulls.length, 1);
  assert.equal(pulls[0].draft, true);
  assert.match(pulls[0].head.ref, /^auto-fix\/database\/[0-9a-f]{12}$/);

  await page.getByRole("link", { name: "Fixes", exact: true }).click();
  await page.waitForURL(/\/fixes$/);
  const row = page.getByTestId("fix-row").first();
  await row.waitFor();
  assert.match(await row.textContent(), /draft PR open/);
  assert.match(await row.getByTestId("fix-pr-link").textContent(), /PR #1/);
  assert.deepEqual(problems, []);
  await page.close();
});

test("Generate Fix works without JavaScript (a plain form post) and reuses the open PR", async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${baseUrl}/`);
  await page.getByRole("link", { name: /could not connect to server/ }).first().click();
  await page.getByRole("button", { name: "Generate Fix" }).click();
  await page.waitForURL(/\?fix=\d+#fix$/);
  // The page refreshes itself (noscript meta refresh) until the fix is done.
  await page.getByTestId("fix-pr-link").waitFor({ timeout: 30_000 });
  assert.match(await page.getByTestId("fix-pr-link").getAttribute("href"), /\/pull\/1$/);
  await context.close();
});
