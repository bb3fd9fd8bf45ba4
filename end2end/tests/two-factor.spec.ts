import { expect, test, type Page } from "@playwright/test";
import { admin } from "../playwright.config";
import { PASSWORD, accountExists, logsIn, navigation, pageIsReady, uniqueName } from "./support/person";
import { nextCode, totp, twoFactorIsOn, wrongCode } from "./support/totp";

function twoFactorSection(page: Page) {
  return page.getByRole("region", { name: "Two-factor authentication" });
}

test("a person turns on two-factor authentication, then logs in with a code and with a recovery code", async ({ page, request }) => {
  const username = uniqueName("totp");
  await accountExists(request, username);
  await logsIn(page, username);
  await expect(page).toHaveURL(/\/me$/);
  await page.goto("/me/security");
  await pageIsReady(page);
  const section = twoFactorSection(page);
  await expect(section.getByText("Two-factor authentication is off.")).toBeVisible();

  await section.getByRole("button", { name: "Set up two-factor authentication" }).click();
  await section.getByLabel("Password").fill("not my password at all");
  await section.getByRole("button", { name: "Continue" }).click();
  await expect(section.getByText("That password is not correct")).toBeVisible();
  await section.getByLabel("Password").fill(PASSWORD);
  await section.getByRole("button", { name: "Continue" }).click();

  // The QR code has a text alternative; the secret is there as text too.
  await expect(section.getByRole("img", { name: /QR code/ })).toBeVisible();
  const secret = ((await section.locator("#totp-secret").textContent()) ?? "").replace(/\s/g, "");
  expect(secret).toMatch(/^[A-Z2-7]{32}$/);
  await section.screenshot({ path: "screenshots/two-factor-setup.png" });
  await section.getByLabel("Authentication code").fill(wrongCode(secret));
  await section.getByRole("button", { name: "Turn on" }).click();
  await expect(section.getByText("That code didn't work")).toBeVisible();
  await section.getByLabel("Authentication code").fill(totp(secret));
  await section.getByRole("button", { name: "Turn on" }).click();

  // The recovery codes, shown once, with a way to keep them.
  const codes = section.getByRole("listitem");
  await expect(codes).toHaveCount(10);
  const recovery = ((await codes.first().textContent()) ?? "").trim();
  expect(recovery).toMatch(/^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$/);
  const download = section.getByRole("link", { name: "Download" });
  await expect(download).toHaveAttribute("download", "gatehouse-recovery-codes.txt");
  expect(decodeURIComponent((await download.getAttribute("href")) ?? "")).toContain(recovery);
  await section.screenshot({ path: "screenshots/two-factor-recovery-codes.png" });
  await section.getByRole("button", { name: "I have saved these codes" }).click();
  await expect(section.getByText("Two-factor authentication is on.")).toBeVisible();
  await expect(section.getByRole("button", { name: "New recovery codes" })).toBeVisible();

  // A password alone no longer signs in: the page asks for a code.
  await navigation(page).getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login/);
  await logsIn(page, username);
  await expect(page).toHaveURL(/\/login\?step=code/);
  const main = page.getByRole("main");
  await main.getByLabel("Authentication code").fill(wrongCode(secret));
  await main.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("alert")).toHaveText("That code didn't work");
  await main.getByLabel("Authentication code").fill(nextCode(secret));
  await main.getByRole("button", { name: "Verify" }).click();
  await expect(page).toHaveURL(/\/me$/);
  await expect(main.getByRole("heading", { name: username })).toBeVisible();

  // A recovery code works once in place of a code.
  await navigation(page).getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login/);
  await logsIn(page, username);
  await expect(page).toHaveURL(/\/login\?step=code/);
  await main.getByRole("link", { name: "Use a recovery code" }).click();
  await expect(page).toHaveURL(/\/login\?step=recovery/);
  await main.getByLabel("Recovery code").fill(recovery);
  await main.getByRole("button", { name: "Verify" }).click();
  await expect(page).toHaveURL(/\/me$/);

  // The security history says what happened, in words.
  await page.goto("/me/security");
  await pageIsReady(page);
  const history = page.getByRole("region", { name: "Recent security activity" });
  await expect(history.getByText(/Recovery code used/)).toBeVisible();
  await expect(history.getByText(/Two-factor authentication turned on/)).toBeVisible();
  await expect(history.getByText(/Wrong authentication code/).first()).toBeVisible();
});

test("a person turns two-factor authentication off behind a confirmation", async ({ page, request }) => {
  const username = uniqueName("totpoff");
  await accountExists(request, username);
  const { codes } = await twoFactorIsOn(request, username);
  // Signing in through the page with a recovery code (the API used this step's code).
  await logsIn(page, username);
  await page.getByRole("main").getByRole("link", { name: "Use a recovery code" }).click();
  await page.getByRole("main").getByLabel("Recovery code").fill(codes[0]);
  await page.getByRole("main").getByRole("button", { name: "Verify" }).click();
  await expect(page).toHaveURL(/\/me$/);
  await page.goto("/me/security");
  await pageIsReady(page);
  const section = twoFactorSection(page);
  await section.getByRole("button", { name: "Turn off" }).click();
  await section.getByLabel("Password").fill(PASSWORD);
  await section.getByLabel("Authentication code").fill(codes[1]);
  await section.getByRole("button", { name: "Turn off" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toBeVisible();
  await dialog.getByRole("button", { name: "Turn off" }).click();
  await expect(section.getByText("Two-factor authentication turned off.")).toBeVisible();
  await expect(section.getByText("Two-factor authentication is off.")).toBeVisible();
  const login = await request.post("/api/v1/auth/token", { form: { username, password: PASSWORD } });
  expect(login.status()).toBe(200);
});

test("an admin removes a person's two-factor authentication", async ({ page, request }) => {
  const username = uniqueName("lostphone");
  await accountExists(request, username);
  await twoFactorIsOn(request, username);
  const before = await request.post("/api/v1/auth/token", { form: { username, password: PASSWORD } });
  expect(before.status()).toBe(403);
  expect((await before.json()).error).toBe("mfa_required");

  await logsIn(page, admin.username, admin.password, "/login?next=/admin/users");
  await expect(page).toHaveURL(/\/admin\/users$/);
  await page.getByLabel("Search").fill(username);
  await page.getByLabel("Search").press("Enter");
  await page.getByRole("link", { name: username, exact: true }).click();
  await expect(page.getByRole("heading", { name: username, level: 1 })).toBeVisible();
  await page.getByRole("button", { name: "Remove two-factor authentication" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toContainText(username);
  await dialog.getByRole("button", { name: "Remove two-factor authentication" }).click();
  await expect(page.getByText("Two-factor authentication removed")).toBeVisible();
  await expect(page.getByRole("button", { name: "Remove two-factor authentication" })).toHaveCount(0);

  const after = await request.post("/api/v1/auth/token", { form: { username, password: PASSWORD } });
  expect(after.status()).toBe(200);
});

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("a login with a second factor works as plain form posts", async ({ page, request }) => {
    const username = uniqueName("nojs2fa");
    await accountExists(request, username);
    const { secret } = await twoFactorIsOn(request, username);
    await page.goto("/login");
    const main = page.getByRole("main");
    await main.getByLabel("Username").fill(username);
    await main.getByLabel("Password").fill(PASSWORD);
    await main.getByRole("button", { name: "Log in" }).click();
    await expect(page).toHaveURL(/\/login\?step=code/);
    await main.getByLabel("Authentication code").fill(wrongCode(secret));
    await main.getByRole("button", { name: "Verify" }).click();
    await expect(page.getByRole("alert")).toHaveText("That code didn't work");
    await main.getByLabel("Authentication code").fill(nextCode(secret));
    await main.getByRole("button", { name: "Verify" }).click();
    await expect(page).toHaveURL(/\/me$/);
    await expect(main.getByRole("heading", { name: username })).toBeVisible();
  });
});
