// A user opens System Health, sees an error that was ingested, clicks it and sees its
// occurrences — in Debian's Chromium, against the real signalbox binary and its built site.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { start, line } from "../support/server.mjs";

let app, browser, baseUrl;

before(async () => {
  app = await start({
    lines: [
      line(50, "INFO checkout started"),
      line(40, "ERROR Payment gateway returned 502 Bad Gateway order_id=1001"),
      line(30, "ERROR Payment gateway returned 502 Bad Gateway order_id=1002"),
      line(20, "ERROR Payment gateway returned 502 Bad Gateway order_id=1003"),
      line(10, "WARN retrying"),
    ],
  });
  ({ browser, baseUrl } = app);
});

after(async () => {
  await app?.stop();
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
  const link = page.locator("table.groups").getByRole("link", { name: title });
  await link.waitFor();
  const row = page.locator("table.groups tbody tr", { has: page.getByRole("link", { name: title }) });
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
  await page.locator("table.groups").getByRole("link", { name: /502 Bad Gateway/ }).click();
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
