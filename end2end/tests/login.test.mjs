// With SIGNALBOX_ADMIN_TOKEN set and SIGNALBOX_PUBLIC_READ=false: pages send visitors to the
// login form; the right token sets an HttpOnly, SameSite=Strict session cookie (never the
// token); changes then work from the page; logging out ends it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { start, line, watchedPage, hydrated } from "../support/server.mjs";

const token = "e2e-admin-token-0123456789";
let app;

before(async () => {
  app = await start({
    lines: [line(20, "ERROR Payment gateway returned 502 Bad Gateway order_id=7")],
    env: { SIGNALBOX_ADMIN_TOKEN: token, SIGNALBOX_PUBLIC_READ: "false" },
  });
});

after(async () => {
  await app?.stop();
});

test("reads are closed until the visitor logs in", async () => {
  const api = await fetch(`${app.baseUrl}/api/logs/errors`);
  assert.equal(api.status, 401);
  const withToken = await fetch(`${app.baseUrl}/api/logs/errors`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(withToken.status, 200);
  const health = await fetch(`${app.baseUrl}/health/readiness`);
  assert.equal(health.status, 200);
  const page = await fetch(`${app.baseUrl}/errors/abc`, { redirect: "manual" });
  assert.equal(page.status, 303);
  assert.equal(page.headers.get("location"), "/login?next=%2Ferrors%2Fabc");
});

test("login, a change from the page, logout", async () => {
  const context = await app.browser.newContext();
  const { page, problems } = await watchedPage(context);
  await page.goto(`${app.baseUrl}/`);
  await page.waitForURL(/\/login\?next=%2F$/);

  await page.getByLabel("Admin token").fill("wrong");
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(/error=bad_token/);
  assert.match(await page.getByRole("alert").textContent(), /not the admin token/);

  await page.getByLabel("Admin token").fill(token);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.waitForURL(`${app.baseUrl}/`);
  const cookie = (await context.cookies()).find((c) => c.name === "signalbox_session");
  assert.ok(cookie, "session cookie set");
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, "Strict");
  assert.ok(!cookie.value.includes(token), "the cookie is not the token");

  await hydrated(page);
  await page.locator("table.groups").getByRole("link", { name: /502 Bad Gateway/ }).click();
  await page.locator("tr.occurrence").first().waitFor();
  await hydrated(page);
  await page.getByRole("button", { name: "Create Task" }).click();
  await page.getByTestId("task-outcome").getByRole("link").waitFor();

  // The session works for server functions, not for the JSON API's changes (those take the
  // bearer token), and a forged cookie gets nothing.
  const forged = await fetch(`${app.baseUrl}/api/logs/errors`, {
    headers: { cookie: `signalbox_session=9999999999.${"0".repeat(64)}` },
  });
  assert.equal(forged.status, 401);

  await page.getByRole("button", { name: "Log out" }).click();
  await page.waitForURL(/\/login/);
  assert.equal((await context.cookies()).find((c) => c.name === "signalbox_session"), undefined);
  assert.deepEqual(problems, []);
  await context.close();
});
