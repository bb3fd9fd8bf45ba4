import { expect, test } from "@playwright/test";
import { PASSWORD, accountExists, uniqueName } from "./support/person";

// The interactive API documentation, as a FastAPI user expects it at /docs: authorize with a
// username and password, then try GET /users/me. Everything comes from Gatehouse itself,
// under its policy, without a single violation.
test("the API docs authorize with a password and try GET /users/me, loading nothing from elsewhere", async ({
  page,
  request,
  baseURL,
}) => {
  const username = uniqueName("docs");
  await accountExists(request, username);
  const violations: string[] = [];
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      (window as unknown as { __v: string[] }).__v ??= [];
      (window as unknown as { __v: string[] }).__v.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
    });
  });
  const elsewhere: string[] = [];
  const origin = new URL(baseURL!).origin;
  page.on("request", (r) => {
    const url = new URL(r.url());
    if (url.protocol !== "data:" && url.origin !== origin) elsewhere.push(r.url());
  });
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy/i.test(m.text())) violations.push(m.text());
  });

  const response = await page.goto("/api/docs");
  expect(response?.status()).toBe(200);
  expect(response?.headers()["content-security-policy"]).not.toContain("unsafe-inline");
  await expect(page.locator(".opblock").first()).toBeVisible();

  // Authorize: the OAuth2 password flow of the document, against the token endpoint.
  await page.locator(".auth-wrapper .authorize").click();
  await page.locator("#oauth_username").fill(username);
  await page.locator("#oauth_password").fill(PASSWORD);
  await page.locator(".auth-btn-wrapper .authorize").click();
  await expect(page.locator(".auth-btn-wrapper button", { hasText: "Logout" })).toBeVisible();
  await page.locator(".auth-btn-wrapper .btn-done").click();

  // Try it out: GET /users/me answers 200 with the person's account.
  const me = page.locator("#operations-users-me");
  await me.locator(".opblock-summary").click();
  // "Try it out" is on from the start (tryItOutEnabled); press it only if a version of the
  // page shows it off.
  const tryOut = me.getByRole("button", { name: "Try it out" });
  const execute = me.locator(".execute");
  await expect(tryOut.or(execute).first()).toBeVisible();
  if (await tryOut.isVisible()) await tryOut.click();
  await execute.click();
  const status = me.locator(".live-responses-table tr.response .response-col_status");
  await expect(status).toHaveText("200");
  await expect(me.locator(".live-responses-table tr.response .response-col_description")).toContainText(username);

  const seen = await page.evaluate(() => (window as unknown as { __v?: string[] }).__v ?? []);
  expect([...seen, ...violations]).toEqual([]);
  expect(elsewhere).toEqual([]);
});
