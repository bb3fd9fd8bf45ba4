import { expect, test, type Browser, type Page } from "@playwright/test";
import { PASSWORD, accountExists, logsIn, pageIsReady, signsUp, uniqueName } from "./support/person";

const NEW_PASSWORD = "another long passphrase";

/** A second browser (its own cookies and storage) signed in as `username`. */
async function secondBrowser(browser: Browser, username: string, password = PASSWORD) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await logsIn(page, username, password);
  await expect(page).toHaveURL(/\/me$/);
  return { context, page };
}

async function opensSecurity(page: Page) {
  await page.goto("/me/security");
  await pageIsReady(page);
  await expect(page.getByRole("heading", { name: "Security", level: 1 })).toBeVisible();
}

test("a person edits their profile, and a taken email is named next to the field", async ({ page, request }) => {
  const username = uniqueName("profile");
  const other = uniqueName("other");
  await accountExists(request, username);
  const taken = `${other}@example.com`;
  const registered = await request.post("/api/v1/auth/register", { data: { username: other, password: PASSWORD, email: taken } });
  expect(registered.status()).toBe(201);
  await logsIn(page, username);
  await expect(page).toHaveURL(/\/me$/);

  await page.getByRole("link", { name: "Edit profile" }).click();
  await page.getByLabel("Email").fill(`${username}@example.com`);
  await page.getByLabel("Full name").fill("Ada Lovelace");
  await page.getByRole("button", { name: "Save profile" }).click();
  await expect(page.getByText("Profile saved")).toBeVisible();
  await expect(page.getByRole("definition").filter({ hasText: `${username}@example.com` })).toBeVisible();
  await expect(page.getByRole("definition").filter({ hasText: "Ada Lovelace" })).toBeVisible();

  await page.getByRole("link", { name: "Edit profile" }).click();
  await page.getByLabel("Email").fill(taken.toUpperCase());
  await page.getByRole("button", { name: "Save profile" }).click();
  await expect(page.getByText("That email is already in use")).toBeVisible();
  await expect(page.getByLabel("Email")).toHaveAttribute("aria-invalid", "true");
});

test("a password change signs out the other browser and keeps this one", async ({ page, browser, request }) => {
  const username = uniqueName("pw");
  await accountExists(request, username);
  const other = await secondBrowser(browser, username);
  await logsIn(page, username);
  await expect(page).toHaveURL(/\/me$/);
  await opensSecurity(page);

  await page.getByLabel("Current password").fill("not my password at all");
  await page.getByLabel("New password").fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByText("That password is not correct")).toBeVisible();

  await page.getByLabel("Current password").fill(PASSWORD);
  await page.getByLabel("New password").fill(NEW_PASSWORD);
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByText("Password changed. Other devices were signed out.")).toBeVisible();

  // The other browser's session is over at its next request.
  await other.page.goto("/me");
  await expect(other.page).toHaveURL(/\/login/);
  // This one goes on, and the new password is the one that works.
  await page.goto("/me");
  await expect(page.getByRole("heading", { name: username })).toBeVisible();
  const old = await request.post("/api/v1/auth/token", { form: { username, password: PASSWORD } });
  expect(old.status()).toBe(400);
  const renewed = await request.post("/api/v1/auth/token", { form: { username, password: NEW_PASSWORD } });
  expect(renewed.status()).toBe(200);
  await other.context.close();
});

test("a person sees where they are signed in and signs out another device", async ({ page, browser, request }) => {
  const username = uniqueName("devices");
  await accountExists(request, username);
  const other = await secondBrowser(browser, username);
  await logsIn(page, username);
  await expect(page).toHaveURL(/\/me$/);
  await opensSecurity(page);

  const section = page.getByRole("region", { name: "Where you're signed in" });
  const rows = section.getByRole("row");
  await expect(rows).toHaveCount(3); // header + two logins
  const mine = rows.filter({ hasText: "This device" });
  await expect(mine).toHaveCount(1);
  await expect(mine).toContainText("Chrome");
  await expect(mine).toContainText("127.0.0.1");

  const theirs = rows.filter({ hasNotText: "This device" }).filter({ has: page.getByRole("button") });
  await theirs.getByRole("button", { name: /Sign out/ }).click();
  await expect(rows).toHaveCount(2);

  await other.page.goto("/me");
  await expect(other.page).toHaveURL(/\/login/);
  const history = page.getByRole("region", { name: "Recent security activity" });
  await page.reload();
  await pageIsReady(page);
  await expect(history.getByText(/Signed in from 127\.0\.0\.1, Chrome/).first()).toBeVisible();
  await expect(history.getByText(/Signed out a device/)).toBeVisible();
  await other.context.close();
});

test("a person deletes their account behind a confirmation, and the name is free again", async ({ page, request }) => {
  const username = uniqueName("leaving");
  await accountExists(request, username);
  await logsIn(page, username);
  await expect(page).toHaveURL(/\/me$/);
  await opensSecurity(page);

  const section = page.getByRole("region", { name: "Delete account" });
  await section.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Delete my account" }).click();
  const dialog = page.getByRole("dialog", { name: "Delete your account?" });
  await expect(dialog).toBeVisible();
  // Escape cancels, and nothing was deleted.
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  const still = await request.post("/api/v1/auth/token", { form: { username, password: PASSWORD } });
  expect(still.status()).toBe(200);

  await page.getByRole("button", { name: "Delete my account" }).click();
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole("button", { name: "Cancel" })).toBeFocused();
  await dialog.getByRole("button", { name: "Delete my account" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByText("Your account was deleted")).toBeVisible();
  const gone = await request.post("/api/v1/auth/token", { form: { username, password: PASSWORD } });
  expect(gone.status()).toBe(400);

  await signsUp(page, { username, password: PASSWORD });
  await expect(page).toHaveURL(/\/me$/);
  await expect(page.getByRole("heading", { name: username })).toBeVisible();
});
