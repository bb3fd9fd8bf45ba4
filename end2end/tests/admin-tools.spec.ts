import { expect, test, type Page } from "@playwright/test";
import { admin } from "../playwright.config";
import { PASSWORD, accountExists, logsIn, pageIsReady, uniqueName } from "./support/person";

async function adminOpensAccount(page: Page, username: string) {
  await logsIn(page, admin.username, admin.password, "/login?next=/admin/users");
  await expect(page).toHaveURL(/\/admin\/users$/);
  await page.getByLabel("Search").fill(username);
  await page.getByLabel("Search").press("Enter");
  await page.getByRole("link", { name: username, exact: true }).click();
  await expect(page).toHaveURL(/\/admin\/users\/[0-9a-f-]{36}$/);
  await expect(page.getByRole("heading", { name: username, level: 1 })).toBeVisible();
}

test("an admin's reset link sets a new password in a fresh browser, once", async ({ page, browser, request }) => {
  const username = uniqueName("forgot");
  await accountExists(request, username);
  await adminOpensAccount(page, username);
  await page.getByRole("button", { name: "Create password reset link" }).click();
  const field = page.getByLabel("Password reset link");
  await expect(field).toHaveValue(/\/reset-password#token=/);
  const link = await field.inputValue();

  const fresh = await browser.newContext();
  const person = await fresh.newPage();
  await person.goto(link);
  await pageIsReady(person);
  await person.getByLabel("New password", { exact: true }).fill("a brand new passphrase");
  await person.getByLabel("Confirm new password").fill("a different passphrase");
  await person.getByRole("button", { name: "Set password" }).click();
  await expect(person.getByText("The passwords do not match")).toBeVisible();
  await person.getByLabel("Confirm new password").fill("a brand new passphrase");
  await person.getByRole("button", { name: "Set password" }).click();
  await expect(person.getByText("Your password was changed. Log in with the new one.")).toBeVisible();
  // The spent token leaves the address bar and the history entry.
  await expect(person).toHaveURL(/\/reset-password$/);
  await person.getByRole("link", { name: "Log in" }).last().click();
  await logsIn(person, username, "a brand new passphrase");
  await expect(person).toHaveURL(/\/me$/);

  // The same link a second time.
  const again = await fresh.newPage();
  await again.goto(link);
  await pageIsReady(again);
  await again.getByLabel("New password", { exact: true }).fill("yet another passphrase");
  await again.getByLabel("Confirm new password").fill("yet another passphrase");
  await again.getByRole("button", { name: "Set password" }).click();
  await expect(again.getByText("This link is no longer valid. Ask an administrator for a new one.")).toBeVisible();
  await fresh.close();
});

test("an admin signs out a user's device and deletes the user behind a named confirmation", async ({ page, request }) => {
  const username = uniqueName("removed");
  await accountExists(request, username);
  const login = await request.post("/api/v1/auth/token", { form: { username, password: PASSWORD } });
  expect(login.status()).toBe(200);
  await adminOpensAccount(page, username);

  const logins = page.getByRole("region", { name: "Where this account is signed in" });
  await expect(logins.getByRole("row")).toHaveCount(2);
  await logins.getByRole("button", { name: /Sign out/ }).click();
  await expect(logins.getByText("No live sign-ins.")).toBeVisible();
  const refreshed = await request.post("/api/v1/auth/token", {
    form: { grant_type: "refresh_token", refresh_token: (await login.json()).refresh_token },
  });
  expect(refreshed.status()).toBe(400);

  await page.getByRole("button", { name: "Delete user" }).click();
  const dialog = page.getByRole("dialog", { name: `Delete ${username}?` });
  await expect(dialog).toBeVisible();
  await dialog.getByRole("button", { name: "Delete user" }).click();
  await expect(page).toHaveURL(/\/admin\/users$/);
  const gone = await request.post("/api/v1/auth/token", { form: { username, password: PASSWORD } });
  expect(gone.status()).toBe(400);
});

test("the audit log filters by event type and by user, and pages back", async ({ page, request }) => {
  test.setTimeout(60_000);
  // More events than one page holds.
  for (let i = 0; i < 50; i++) await accountExists(request, uniqueName("filler"));
  const username = uniqueName("audited");
  await accountExists(request, username);
  for (const password of ["wrong guess one", "wrong guess two"]) {
    const failed = await request.post("/api/v1/auth/token", { form: { username, password } });
    expect(failed.status()).toBe(400);
  }
  await logsIn(page, admin.username, admin.password);
  await expect(page).toHaveURL(/\/me$/);
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit" }).click();
  await expect(page).toHaveURL(/\/admin\/audit$/);
  await pageIsReady(page);
  const table = page.getByRole("table");
  await expect(table).toBeVisible();

  await page.getByLabel("User").fill(username);
  await page.getByRole("button", { name: "Filter" }).click();
  const rows = table.getByRole("row");
  await expect(rows).toHaveCount(4); // header + registered + two failed sign-ins
  await expect(rows.filter({ hasText: "Failed sign-in: wrong password" })).toHaveCount(2);
  await expect(rows.filter({ hasText: "Account created" })).toHaveCount(1);

  await page.getByLabel("Event type").selectOption({ label: "Failed sign-in" });
  await page.getByRole("button", { name: "Filter" }).click();
  await expect(rows).toHaveCount(3);
  await rows.nth(1).getByRole("link", { name: username }).click();
  await expect(page).toHaveURL(/\/admin\/users\/[0-9a-f-]{36}$/);

  await page.goto("/admin/audit");
  await pageIsReady(page);
  await expect(page.getByRole("button", { name: "Older" })).toBeEnabled();
  await page.getByRole("button", { name: "Older" }).click();
  await expect(page.getByRole("button", { name: "Newer" })).toBeEnabled();
});
