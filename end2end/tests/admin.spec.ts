import { expect, test, type APIRequestContext, type Browser, type Page } from "@playwright/test";
import { admin } from "../playwright.config";
import { PASSWORD, accountExists, logsIn, navigation, pageIsReady, uniqueName } from "./support/person";

async function adminOpensUsers(page: Page) {
  await logsIn(page, admin.username, admin.password, "/login?next=/admin/users");
  await expect(page).toHaveURL(/\/admin\/users$/);
  await expect(page.getByRole("table")).toBeVisible();
}

async function searchesFor(page: Page, text: string) {
  await page.getByLabel("Search").fill(text);
  await page.getByLabel("Search").press("Enter");
}

function rowOf(page: Page, username: string) {
  return page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: username, exact: true }) });
}

test("a signed-out visitor is sent to log in and returns to the user list", async ({ page }) => {
  const response = await page.goto("/admin/users");
  expect(response?.url()).toMatch(/\/login\?next=(%2F|\/)admin(%2F|\/)users$/);
  await pageIsReady(page);
  const main = page.getByRole("main");
  await main.getByLabel("Username").fill(admin.username);
  await main.getByLabel("Password").fill(admin.password);
  await main.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/admin\/users$/);
  await expect(navigation(page).getByRole("link", { name: "Users" })).toBeVisible();
});

test("a signed-in non-admin gets the 403 page", async ({ page, request }) => {
  const username = uniqueName("plain");
  await accountExists(request, username);
  await logsIn(page, username);
  await expect(page).toHaveURL(/\/me$/);
  const response = await page.goto("/admin/users");
  expect(response?.status()).toBe(403);
  await expect(page.getByRole("heading", { name: "You do not have access to this page" })).toBeVisible();
  await expect(navigation(page).getByRole("link", { name: "Users" })).toHaveCount(0);
});

test("an admin searches, disables, enables and promotes", async ({ page, request }) => {
  const username = uniqueName("target");
  await accountExists(request, username);
  await adminOpensUsers(page);
  await searchesFor(page, username);
  const row = rowOf(page, username);
  await expect(row).toHaveCount(1);
  await expect(page.getByRole("row")).toHaveCount(2); // header + the one match
  await expect(row.getByRole("cell", { name: "active" })).toBeVisible();

  await row.getByRole("button", { name: "Disable" }).click();
  await expect(row.getByRole("cell", { name: "disabled" })).toBeVisible();
  const refused = await request.post("/api/v1/auth/token", { form: { username, password: PASSWORD } });
  expect(refused.status()).toBe(400);

  await row.getByRole("button", { name: "Enable" }).click();
  await expect(row.getByRole("cell", { name: "active" })).toBeVisible();
  const allowed = await request.post("/api/v1/auth/token", { form: { username, password: PASSWORD } });
  expect(allowed.status()).toBe(200);

  await row.getByRole("button", { name: "Make admin" }).click();
  await expect(row.getByRole("cell", { name: "admin", exact: true })).toBeVisible();
  await row.getByRole("button", { name: "Make user" }).click();
  await expect(row.getByRole("cell", { name: "user", exact: true })).toBeVisible();
});

test("the search runs as the admin types", async ({ page, request }) => {
  const username = uniqueName("typed");
  await accountExists(request, username);
  await adminOpensUsers(page);
  await page.getByLabel("Search").pressSequentially(username, { delay: 5 });
  await expect(rowOf(page, username)).toHaveCount(1);
  await expect(page.getByRole("row")).toHaveCount(2);
});

test("the list pages by 50 with Previous and Next", async ({ page, request }) => {
  test.setTimeout(60_000);
  const prefix = uniqueName("pg");
  for (let i = 0; i < 53; i++) {
    await accountExists(request, `${prefix}_${String(i).padStart(2, "0")}`);
  }
  await adminOpensUsers(page);
  await searchesFor(page, prefix);
  await expect(page.getByRole("row")).toHaveCount(51);
  await expect(page.getByRole("button", { name: "Previous" })).toBeDisabled();
  await page.getByRole("button", { name: "Next" }).click();
  await expect(page.getByRole("row")).toHaveCount(4);
  await expect(rowOf(page, `${prefix}_52`)).toHaveCount(1);
  await expect(page.getByRole("button", { name: "Next" })).toBeDisabled();
  await page.getByRole("button", { name: "Previous" }).click();
  await expect(rowOf(page, `${prefix}_00`)).toHaveCount(1);
});

/** A person signed in on a browser of their own, whom the admin on `page` then disables. */
async function signedInThenDisabled(browser: Browser, page: Page, request: APIRequestContext, prefix: string) {
  const username = uniqueName(prefix);
  await accountExists(request, username);
  const theirs = await (await browser.newContext()).newPage();
  await logsIn(theirs, username);
  await expect(theirs).toHaveURL(/\/me$/);

  await adminOpensUsers(page);
  await searchesFor(page, username);
  await rowOf(page, username).getByRole("button", { name: "Disable" }).click();
  await expect(rowOf(page, username).getByRole("cell", { name: "disabled" })).toBeVisible();
  return theirs;
}

test("a disabled person's open page is signed out at their next action", async ({ browser, page, request }) => {
  const theirs = await signedInThenDisabled(browser, page, request, "victim");
  await theirs.getByRole("main").getByRole("button", { name: "Sign out everywhere" }).click();
  await expect(theirs).toHaveURL(/\/login/);
  await expect(theirs.getByText("Your account has been disabled")).toBeVisible();
});

test("a disabled person whose access token has expired is told so at their next action", async ({ browser, page, request }) => {
  const theirs = await signedInThenDisabled(browser, page, request, "lapsed");
  // Their access token is gone (as when it expires): the next action must refresh first.
  await theirs.evaluate(() => localStorage.removeItem("gatehouse.access_token"));
  await theirs.getByRole("main").getByRole("button", { name: "Sign out everywhere" }).click();
  await expect(theirs).toHaveURL(/\/login/);
  await expect(theirs.getByText("Your account has been disabled")).toBeVisible();
});

test("an expired access token is renewed silently", async ({ page, request }) => {
  const username = uniqueName("later");
  await accountExists(request, username);
  await adminOpensUsers(page);
  // The test server issues 5-second access tokens, accepted for 5 more seconds of leeway.
  await page.waitForTimeout(11_000);
  await searchesFor(page, username);
  await expect(rowOf(page, username)).toHaveCount(1);
  await expect(page).toHaveURL(/\/admin\/users$/);
});

test("two tabs whose access tokens expire at the same moment both stay signed in", async ({ context, request }) => {
  test.setTimeout(60_000);
  const username = uniqueName("twotabs");
  await accountExists(request, username);
  const first = await context.newPage();
  await adminOpensUsers(first);
  const second = await context.newPage();
  await second.goto("/admin/users");
  await pageIsReady(second);
  await expect(second.getByRole("table")).toBeVisible();
  // Past the 5-second lifetime and its 5-second leeway, both tabs act at once.
  await first.waitForTimeout(11_000);
  await Promise.all([searchesFor(first, username), searchesFor(second, username)]);
  for (const tab of [first, second]) {
    await expect(rowOf(tab, username)).toHaveCount(1);
    await expect(tab).toHaveURL(/\/admin\/users$/);
  }
  // Still one working login: a reload shows the signed-in page, not the login form.
  await second.reload();
  await expect(second.getByRole("table")).toBeVisible();
});

test("the last enabled admin is told why they cannot step down", async ({ page }) => {
  await adminOpensUsers(page);
  await searchesFor(page, admin.username);
  const row = rowOf(page, admin.username);
  await row.getByRole("button", { name: "Make user" }).click();
  await expect(page.getByRole("alert")).toHaveText("This change would leave no enabled admin; promote another user first");
  await expect(row.getByRole("cell", { name: "admin", exact: true })).toBeVisible();
});
