// Generate Fix in the browser: a user opens an error group, presses Generate Fix and sees the
// draft pull request's link; the Fixes page lists it — against the real signalbox binary and
// the fake Anthropic and GitHub servers (`signalbox-fake anthropic|github`).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { start, startFake, watchedPage } from "../support/server.mjs";

const KEY = "sk-ant-fake-0000000000000000";
const TOKEN = "ghp_fake000000000000000000000000000000";

let app, anthropic, github;

before(async () => {
  anthropic = await startFake("anthropic", ["--key", KEY], async (url) => (await fetch(`${url}/v1/models`)).status === 401);
  github = await startFake(
    "github",
    ["--token", TOKEN, "--repository", "acme/shop"],
    async (url) => (await fetch(`${url}/repos/acme/shop`)).status === 401,
  );
  // A Python error whose trace names the checkout service's db.py (in the fake's repository).
  const stack = [
    "Traceback (most recent call last):",
    '  File "/usr/local/lib/python3.12/site-packages/psycopg2/__init__.py", line 122, in connect',
    '  File "/app/checkout/db.py", line 31, in get_connection',
    "psycopg2.OperationalError: could not connect to server: Connection refused",
  ].join("\n");
  const error = {
    time: "2026-11-27T10:00:01Z",
    level: "error",
    service: "checkout",
    msg: "psycopg2.OperationalError: could not connect to server: Connection refused",
    stack,
  };
  app = await start({
    lines: [JSON.stringify(error)],
    logName: "app.jsonl",
    ingestArgs: ["--service", "checkout"],
    // The fix generator's settings reach the server only: ingesting queues no fix.
    serveEnv: {
      ANTHROPIC_API_KEY: KEY,
      ANTHROPIC_BASE_URL: anthropic.url,
      GITHUB_TOKEN: TOKEN,
      GITHUB_API_URL: github.url,
      GITHUB_REPOSITORY: "acme/shop",
      AUTO_FIX_ENABLED: "true",
    },
  });
});

after(async () => {
  await app?.stop();
  anthropic?.stop();
  github?.stop();
});

test("Generate Fix shows the draft pull request's link; the Fixes page lists it", async () => {
  const { page, problems } = await watchedPage(app.browser);
  await page.goto(`${app.baseUrl}/`);
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
    await fetch(`${github.url}/repos/acme/shop/pulls?state=open`, {
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
  const context = await app.browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${app.baseUrl}/`);
  await page.getByRole("link", { name: /could not connect to server/ }).first().click();
  await page.getByRole("button", { name: "Generate Fix" }).click();
  await page.waitForURL(/\?fix=\d+#fix$/);
  // The page refreshes itself (noscript meta refresh) until the fix is done.
  await page.getByTestId("fix-pr-link").waitFor({ timeout: 30_000 });
  assert.match(await page.getByTestId("fix-pr-link").getAttribute("href"), /\/pull\/1$/);
  await context.close();
});
