// A user opens System Health, sees an error that was ingested, clicks it and sees its
// occurrences — in Debian's Chromium, against the real signalbox binary and its built site.
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
const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

let dir, server, browser, baseUrl;
const serverLog = [];

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

async function waitReady(url, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server not ready at ${url}:\n${serverLog.join("")}`);
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "signalbox-e2e-"));
  const env = {
    ...process.env,
    DATABASE_URL: `sqlite://${join(dir, "e2e.db")}`,
    LEPTOS_SITE_ROOT: join(root, "target/site"),
    ERROR_MONITORING_ENABLED: "false",
    LOG_LEVEL: "warn",
  };
  const log = join(dir, "app.log");
  writeFileSync(
    log,
    [
      "2026-11-27 10:00:00 INFO checkout started",
      "2026-11-27 10:00:01 ERROR Payment gateway returned 502 Bad Gateway order_id=1001",
      "2026-11-27 10:00:02 ERROR Payment gateway returned 502 Bad Gateway order_id=1002",
      "2026-11-27 10:00:03 ERROR Payment gateway returned 502 Bad Gateway order_id=1003",
      "2026-11-27 10:00:04 WARN retrying",
    ].join("\n"),
  );
  execFileSync(binary, ["ingest", log], { env });
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  server = spawn(binary, ["serve"], { env: { ...env, PORT: String(port) } });
  server.stdout.on("data", (d) => serverLog.push(String(d)));
  server.stderr.on("data", (d) => serverLog.push(String(d)));
  await waitReady(`${baseUrl}/health/readiness`, 30_000);
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
  server?.kill("SIGTERM");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("System Health lists the error; clicking it shows its occurrences", async () => {
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`);
  });
  const wasm = page.waitForResponse((r) => r.url().endsWith("/pkg/signalbox.wasm"));

  await page.goto(`${baseUrl}/`);
  const title = "Payment gateway returned 502 Bad Gateway order_id=<num>";
  const link = page.getByRole("link", { name: title });
  await link.waitFor();
  const row = page.locator("table.groups tbody tr", { has: link });
  assert.equal((await row.locator("td.num").textContent()).trim(), "3");

  // The page hydrates: the bundle loads and nothing panics.
  assert.equal((await wasm).status(), 200);

  await link.click();
  await page.waitForURL(/\/errors\/[0-9a-f]{64}$/);
  await page.locator("tr.occurrence").first().waitFor();
  assert.equal(await page.locator("tr.occurrence").count(), 3);
  assert.match(await page.locator("h1.template").textContent(), /502 Bad Gateway order_id=<num>/);
  assert.ok((await page.locator("tr.occurrence td.message").allTextContents()).some((t) => t.includes("order_id=1002")));
  assert.deepEqual(problems, []);
});

test("pages are complete HTML without JavaScript", async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${baseUrl}/`);
  await page.getByRole("link", { name: /502 Bad Gateway/ }).click();
  assert.equal(await page.locator("tr.occurrence").count(), 3);
  await context.close();
});

test("Rules and Tasks hydrate without errors; a rule switches off in place", async () => {
  const page = await browser.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()}`);
  });

  const wasm = page.waitForResponse((r) => r.url().endsWith("/pkg/signalbox.wasm"));
  await page.goto(`${baseUrl}/rules`);
  assert.equal(await page.locator("tr.rule").count(), 15);
  assert.equal((await wasm).status(), 200);
  await page.waitForLoadState("networkidle");

  // Hydrated: the form calls the server function and the page updates without a reload.
  const spike = page.locator("tr.rule", { hasText: "Spike" });
  await spike.getByRole("button", { name: "Disable rule “Spike”" }).click();
  await spike.getByRole("button", { name: "Enable rule “Spike”" }).waitFor();
  assert.match(await spike.locator(".form-message").textContent(), /Saved\./);
  assert.ok(!page.url().includes("saved="), "no full-page round trip");

  await page.getByRole("link", { name: "Tasks", exact: true }).click();
  await page.waitForURL(/\/tasks$/);
  // `signalbox ingest` ran the rules: "New error" opened the group's task.
  await page.locator("tr.task").first().waitFor();
  assert.match(await page.locator("tr.task").first().textContent(), /502 Bad Gateway/);
  await page.waitForLoadState("networkidle");
  assert.deepEqual(problems, []);
  await page.close();
});
