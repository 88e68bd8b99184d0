// System Health end to end, in Debian's Chromium against the real binary: the top errors and
// the chart, a group's page and its actions, Create Task, auto-refresh picking up a new error
// without a reload, the page without JavaScript, the Sources page, and screenshots.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { start, line, watchedPage, hydrated, root } from "../support/server.mjs";

let app;
const shots = join(root, "end2end/screenshots");
const payment = "Payment gateway returned 502 Bad Gateway order_id=<num>";

before(async () => {
  app = await start({
    lines: [
      line(50, "INFO checkout started"),
      line(40, "ERROR Payment gateway returned 502 Bad Gateway order_id=1001"),
      line(30, "ERROR Payment gateway returned 502 Bad Gateway order_id=1002"),
      line(20, "ERROR Payment gateway returned 502 Bad Gateway order_id=1003"),
      // A JSON line with its stack trace (and markup that must stay text).
      JSON.stringify({
        time: new Date(Date.now() - 15 * 60_000).toISOString(),
        level: "error",
        service: "checkout",
        msg: "KeyError: 'sku' <script>alert(1)</script>",
        stack: [
          "Traceback (most recent call last):",
          '  File "/app/shop/cart.py", line 12, in add_item',
          '  File "/usr/lib/python3/site-packages/sqlalchemy/orm.py", line 99, in flush',
          "KeyError: 'sku'",
        ].join("\n"),
      }),
      line(10, "CRITICAL Database connection refused host=10.0.0.5"),
      line(5, "WARN retrying"),
    ],
    // A webhook nobody listens on: its delivery fails and waits for a retry.
    env: { ALERT_WEBHOOK_URL: "http://127.0.0.1:9/hook" },
  });
});

after(async () => {
  await app?.stop();
});

test("System Health shows the top errors, sparklines and the chart's canvas", async () => {
  const context = await app.browser.newContext({ viewport: { width: 1280, height: 900 } });
  const { page, problems } = await watchedPage(context);
  await page.goto(`${app.baseUrl}/`);
  const link = page.locator("table.groups").getByRole("link", { name: payment });
  await link.waitFor();
  const row = page.locator("table.groups tbody tr", { has: page.getByRole("link", { name: payment }) });
  assert.equal((await row.locator("td.num").textContent()).trim(), "3");
  assert.equal(await row.locator("svg.spark polyline").count(), 1);
  await hydrated(page);
  await page.locator("#error-rate-chart canvas").first().waitFor();
  assert.match(await page.getByTestId("errors-24h").textContent(), /^\d+$/);
  // Times become local with a relative part once hydrated.
  await page.locator("table.groups time", { hasText: /ago/ }).first().waitFor();
  await page.screenshot({ path: join(shots, "system-health-desktop.png"), fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();
});

test("the view lives in the URL: filters and the chart split", async () => {
  const context = await app.browser.newContext();
  const { page, problems } = await watchedPage(context);
  await page.goto(`${app.baseUrl}/?range=1h&level=critical&by=service`);
  await page.locator("table.groups").getByRole("link", { name: /Database connection refused/ }).waitFor();
  assert.equal(await page.locator("table.groups").getByRole("link", { name: payment }).count(), 0);
  assert.equal(await page.locator("#f-range").inputValue(), "1h");
  assert.equal(await page.locator("#f-level").inputValue(), "critical");
  await hydrated(page);
  // The text filter, typed and submitted: a GET that puts it in the URL.
  await page.goto(`${app.baseUrl}/`);
  await hydrated(page);
  await page.getByLabel("Text").fill("gateway");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.waitForURL(/q=gateway/);
  await page.locator("table.groups").getByRole("link", { name: payment }).waitFor();
  assert.equal(await page.locator("table.groups").getByRole("link", { name: /Database connection refused/ }).count(), 0);
  assert.deepEqual(problems, []);
  await context.close();
});

test("a group: chart, trace with in-app frames, breakdown, occurrences, Resolve, Create Task", async () => {
  const context = await app.browser.newContext();
  const { page, problems } = await watchedPage(context);
  await page.goto(`${app.baseUrl}/`);
  await hydrated(page);
  await page.locator("table.groups").getByRole("link", { name: /KeyError/ }).click();
  await page.waitForURL(/\/errors\/[0-9a-f]{64}$/);
  await page.locator("tr.occurrence").first().waitFor();
  assert.equal(await page.locator("svg.bars rect").count() > 0, true);
  assert.match(await page.locator("pre.trace .frame-app").first().textContent(), /shop\/cart\.py/);
  assert.match(await page.locator("pre.trace .frame-lib").first().textContent(), /site-packages/);
  assert.match(await page.locator("table.breakdown").first().textContent(), /checkout/);
  // Log text is text: the markup in the message is shown, never run.
  assert.match(await page.locator("pre.sample").textContent(), /<script>alert\(1\)<\/script>/);
  assert.equal(await page.locator("main script").count(), 0);
  await hydrated(page);

  await page.getByRole("button", { name: "Resolve" }).click();
  await page.getByTestId("group-status").filter({ hasText: "resolved" }).waitFor();
  await page.getByRole("button", { name: "Reopen" }).waitFor();

  await page.getByRole("button", { name: "Create Task" }).click();
  const outcome = page.getByTestId("task-outcome");
  await outcome.getByRole("link").waitFor();
  const taskLink = await outcome.getByRole("link").textContent();
  await page.getByRole("link", { name: "Tasks", exact: true }).click();
  await page.waitForURL(/\/tasks$/);
  await page.locator("tr.task", { hasText: taskLink.trim() }).waitFor();
  assert.match(await page.locator("tr.task", { hasText: taskLink.trim() }).textContent(), /KeyError/);
  assert.deepEqual(problems, []);
  await context.close();
});

test("a new error appears within 35 s without a reload; open rows and typed input stay", async () => {
  const created = await fetch(`${app.baseUrl}/api/projects`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "live" }),
  });
  assert.equal(created.status, 201);
  const project = await created.json();
  const key = project.public_key ?? project.project?.public_key;
  assert.ok(key, JSON.stringify(project));

  const context = await app.browser.newContext();
  const { page, problems } = await watchedPage(context);
  await page.goto(`${app.baseUrl}/`);
  await hydrated(page);
  await page.evaluate(() => { window.__sameDocument = true; });
  await page.getByLabel("Text").fill("typed but not sent");

  // Meanwhile, on a group's page, an occurrence's details are open and the page is scrolled.
  const { page: group, problems: groupProblems } = await watchedPage(context);
  await group.setViewportSize({ width: 1000, height: 500 });
  await group.goto(`${app.baseUrl}/`);
  await group.locator("table.groups").getByRole("link", { name: /KeyError/ }).click();
  await group.locator("tr.occurrence details").first().waitFor();
  await hydrated(group);
  await group.locator("tr.occurrence details summary").first().click();
  await group.locator("tr.occurrence details").first().evaluate((d) => { d.dataset.mark = "kept"; });
  await group.evaluate(() => window.scrollTo(0, 400));
  const scrolled = await group.evaluate(() => window.scrollY);

  const pushed = await fetch(`${app.baseUrl}/api/ingest`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-signalbox-key": key },
    body: JSON.stringify({ level: "error", message: "Inventory service timed out after 30s", service: "inventory" }),
  });
  assert.ok(pushed.ok, `ingest answered ${pushed.status}`);

  await page.locator("table.groups").getByRole("link", { name: /Inventory service timed out/ }).waitFor({ timeout: 35_000 });
  assert.equal(await page.evaluate(() => window.__sameDocument), true, "no reload");
  assert.equal(await page.getByLabel("Text").inputValue(), "typed but not sent");
  assert.match(await page.getByTestId("updated").textContent(), /Updated/);

  // The group page refreshed too (its clock restarted) without closing the row or scrolling.
  await group.locator('.refresh[data-refreshes="1"]').waitFor({ timeout: 35_000 });
  await group.getByTestId("updated").filter({ hasText: /just now/ }).waitFor();
  const details = group.locator("tr.occurrence details").first();
  assert.equal(await details.evaluate((d) => [d.open, d.dataset.mark].join()), "true,kept");
  assert.equal(await group.evaluate(() => window.scrollY), scrolled);
  assert.deepEqual(groupProblems, []);

  // Paused, the page stops refreshing.
  await page.getByRole("button", { name: "Pause auto-refresh" }).click();
  await page.getByRole("button", { name: "Resume auto-refresh" }).waitFor();
  assert.deepEqual(problems, []);
  await context.close();
});

test("without JavaScript: complete pages, a working filter form and plain-post actions", async () => {
  const context = await app.browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${app.baseUrl}/`);
  await page.locator("table.groups").getByRole("link", { name: payment }).waitFor();
  await page.getByLabel("Text").fill("database");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.waitForURL(/q=database/);
  assert.equal(await page.locator("table.groups").getByRole("link", { name: payment }).count(), 0);
  await page.locator("table.groups").getByRole("link", { name: /Database connection refused/ }).first().click();
  assert.equal(await page.locator("tr.occurrence").count(), 1);
  await page.getByRole("button", { name: "Ignore" }).click();
  await page.waitForURL(/status=ignored/);
  assert.match(await page.getByTestId("group-status").textContent(), /ignored/);
  await context.close();
});

test("Sources lists the monitor and the failed or retrying notifications", async () => {
  const context = await app.browser.newContext();
  const { page, problems } = await watchedPage(context);
  // The notifier tries the webhook within seconds; its error is kept with the row.
  const deadline = Date.now() + 30_000;
  for (;;) {
    await page.goto(`${app.baseUrl}/sources`);
    if (await page.locator("tr.delivery").count()) break;
    assert.ok(Date.now() < deadline, "no failed delivery listed");
    await new Promise((r) => setTimeout(r, 1000));
  }
  assert.match(await page.getByTestId("monitor-state").textContent(), /off/);
  const delivery = page.locator("tr.delivery").first();
  assert.match(await delivery.textContent(), /webhook/);
  assert.notEqual((await delivery.locator("td.message").textContent()).trim(), "");
  assert.ok(!(await page.content()).includes("127.0.0.1:9"), "the webhook URL is a secret");
  await hydrated(page);
  assert.deepEqual(problems, []);
  await context.close();
});

test("phone width: no sideways scrolling, screenshots", async () => {
  const context = await app.browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const { page } = await watchedPage(context);
  await page.goto(`${app.baseUrl}/`);
  await hydrated(page);
  await page.locator("#error-rate-chart canvas").first().waitFor();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `page is ${overflow}px wider than the screen`);
  await page.screenshot({ path: join(shots, "system-health-phone.png"), fullPage: true });
  await page.locator("table.groups").getByRole("link", { name: payment }).click();
  await page.locator("tr.occurrence").first().waitFor();
  await page.screenshot({ path: join(shots, "group-phone.png"), fullPage: true });
  await context.close();
});
