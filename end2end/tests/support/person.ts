import { expect, type APIRequestContext, type Page } from "@playwright/test";

export const PASSWORD = "a long passphrase for tests";

/** A username no other test uses. */
export function uniqueName(prefix = "user"): string {
  return `${prefix}_${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** Creates an account through the JSON API (quicker than the form when the form is not under test). */
export async function accountExists(request: APIRequestContext, username: string, password = PASSWORD) {
  const response = await request.post("/api/v1/auth/register", { data: { username, password } });
  expect(response.status()).toBe(201);
  return response.json();
}

/**
 * Waits until the page's WASM has hydrated. A page that never does fails with what the browser
 * said about it (console errors, CSP refusals, uncaught errors): CI keeps only the printed output.
 */
export async function pageIsReady(page: Page) {
  try {
    await page.waitForFunction(() => (window as unknown as { __gatehouseHydrated?: boolean }).__gatehouseHydrated === true, undefined, {
      timeout: 20_000,
    });
  } catch (error) {
    const said = [
      ...(await page.consoleMessages()).filter((m) => m.type() === "error" || m.type() === "warning").map((m) => `console ${m.type()}: ${m.text()}`),
      ...(await page.pageErrors()).map((e) => `uncaught: ${e.message}`),
    ];
    throw new Error(`${page.url()} did not hydrate within 20 s. The browser said:\n${said.join("\n") || "(nothing)"}\n${error}`);
  }
}

export async function logsIn(page: Page, username: string, password = PASSWORD, path = "/login") {
  await page.goto(path);
  await pageIsReady(page);
  const form = page.getByRole("main");
  await form.getByLabel("Username").fill(username);
  await form.getByLabel("Password").fill(password);
  await form.getByRole("button", { name: "Log in" }).click();
}

export async function signsUp(page: Page, fields: { username: string; password: string; email?: string; fullName?: string }) {
  await page.goto("/signup");
  await pageIsReady(page);
  const form = page.getByRole("main");
  await form.getByLabel("Username").fill(fields.username);
  if (fields.email) await form.getByLabel("Email (optional)").fill(fields.email);
  if (fields.fullName) await form.getByLabel("Full name (optional)").fill(fields.fullName);
  await form.getByLabel("Password", { exact: true }).fill(fields.password);
  await form.getByRole("button", { name: "Sign up" }).click();
}

export function navigation(page: Page) {
  return page.getByRole("navigation", { name: "Main" });
}
