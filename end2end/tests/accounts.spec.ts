import { expect, test } from "@playwright/test";
import { PASSWORD, accountExists, logsIn, navigation, pageIsReady, signsUp, uniqueName } from "./support/person";

test("a person signs up and lands on their profile, signed in", async ({ page }) => {
  const username = uniqueName("ada");
  await signsUp(page, { username, password: PASSWORD, email: `${username}@example.com`, fullName: "Ada Lovelace" });
  await expect(page).toHaveURL(/\/me$/);
  const main = page.getByRole("main");
  await expect(main.getByRole("heading", { name: username })).toBeVisible();
  await expect(main).toContainText(`${username}@example.com`);
  await expect(main).toContainText("Ada Lovelace");
  await expect(navigation(page).getByRole("link", { name: username })).toBeVisible();
  // The access token is in localStorage; the refresh token is not reachable from script.
  const stored = await page.evaluate(() => localStorage.getItem("gatehouse.access_token"));
  expect(stored).toBeTruthy();
  expect(await page.evaluate(() => document.cookie)).not.toContain("gatehouse_refresh");
});

test("field errors show next to the field as the person types", async ({ page }) => {
  await page.goto("/signup");
  await pageIsReady(page);
  const password = page.getByLabel("Password", { exact: true });
  await page.getByLabel("Username").fill("ab");
  await password.click();
  const username = page.getByLabel("Username");
  await expect(username).toHaveAttribute("aria-invalid", "true");
  const describedBy = await username.getAttribute("aria-describedby");
  await expect(page.locator(`#${describedBy}`)).toHaveText("Username must be at least 3 characters");
  await password.fill("short");
  await page.getByLabel("Username").click();
  await expect(password).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByText("Password must be at least 8 characters")).toBeVisible();
  // Submitting with errors sends nothing and puts focus on the first bad field.
  await page.getByRole("button", { name: "Sign up" }).click();
  await expect(username).toBeFocused();
  await expect(page).toHaveURL(/\/signup$/);
});

test("a taken username is reported next to the username field", async ({ page, request }) => {
  const username = uniqueName("taken");
  await accountExists(request, username);
  await signsUp(page, { username: username.toUpperCase(), password: PASSWORD });
  const field = page.getByLabel("Username");
  await expect(field).toHaveAttribute("aria-invalid", "true");
  await expect(page.getByText("That username is already taken")).toBeVisible();
  await expect(page).toHaveURL(/\/signup$/);
});

test("a wrong password shows the one failure message", async ({ page, request }) => {
  const username = uniqueName("bob");
  await accountExists(request, username);
  await logsIn(page, username, "not the right passphrase");
  await expect(page.getByRole("alert")).toHaveText("Incorrect username or password");
  await logsIn(page, uniqueName("nobody"), PASSWORD);
  await expect(page.getByRole("alert")).toHaveText("Incorrect username or password");
});

test("a person logs in, reloads and stays signed in, with the name in the server's HTML", async ({ page, request }) => {
  const username = uniqueName("carol");
  await accountExists(request, username);
  await logsIn(page, username);
  await expect(page).toHaveURL(/\/me$/);
  await page.reload();
  await expect(page.getByRole("main").getByRole("heading", { name: username })).toBeVisible();
  // The HTML the server sends already shows who is signed in (no signed-out flash).
  const cookies = await page.context().cookies();
  const header = cookies.map((c) => `${c.name}=${c.value}`).join("; ");
  const html = await (await page.request.get("/me", { headers: { cookie: header } })).text();
  expect(html).toContain(username);
  expect(html).not.toContain(">Log in</a>");
});

test("log out returns to the login page and forgets the session", async ({ page, request }) => {
  const username = uniqueName("dave");
  await accountExists(request, username);
  await logsIn(page, username);
  await expect(page).toHaveURL(/\/me$/);
  await navigation(page).getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await expect(navigation(page).getByRole("link", { name: "Log in" })).toBeVisible();
  expect(await page.evaluate(() => localStorage.getItem("gatehouse.access_token"))).toBeNull();
  await page.goto("/me");
  await expect(page).toHaveURL(/\/login\?next=%2Fme|\/login\?next=\/me/);
});

test("logging out in one tab signs out the other tab", async ({ context, request }) => {
  const username = uniqueName("erin");
  await accountExists(request, username);
  const first = await context.newPage();
  await logsIn(first, username);
  await expect(first).toHaveURL(/\/me$/);
  const second = await context.newPage();
  await second.goto("/me");
  await pageIsReady(second);
  await expect(second.getByRole("main").getByRole("heading", { name: username })).toBeVisible();
  await first.getByRole("main").getByRole("button", { name: "Log out" }).click();
  await expect(second).toHaveURL(/\/login/, { timeout: 5_000 });
  await expect(navigation(second).getByRole("link", { name: "Log in" })).toBeVisible();
});

test("sign out everywhere signs out another browser too", async ({ browser, page, request }) => {
  const username = uniqueName("fay");
  await accountExists(request, username);
  const otherContext = await browser.newContext();
  const other = await otherContext.newPage();
  await logsIn(other, username);
  await expect(other).toHaveURL(/\/me$/);
  await logsIn(page, username);
  await expect(page).toHaveURL(/\/me$/);
  await page.getByRole("button", { name: "Sign out everywhere" }).click();
  await expect(page).toHaveURL(/\/login(\?|$)/);
  // The other browser's next action finds its session ended.
  await other.getByRole("main").getByRole("button", { name: "Sign out everywhere" }).click();
  await expect(other).toHaveURL(/\/login/);
  await other.reload();
  await expect(navigation(other).getByRole("link", { name: "Log in" })).toBeVisible();
  await otherContext.close();
});

test("a signed-out visitor is sent to log in and comes back", async ({ page, request }) => {
  const username = uniqueName("gus");
  await accountExists(request, username);
  const response = await page.goto("/me");
  expect(response?.url()).toMatch(/\/login\?next=(%2F|\/)me$/);
  await pageIsReady(page);
  const main = page.getByRole("main");
  await main.getByLabel("Username").fill(username);
  await main.getByLabel("Password").fill(PASSWORD);
  await main.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/me$/);
});

test("next accepts local paths only", async ({ page, request }) => {
  const username = uniqueName("hal");
  await accountExists(request, username);
  await logsIn(page, username, PASSWORD, "/login?next=//evil.example/");
  await expect(page).toHaveURL(/127\.0\.0\.1:\d+\/me$/);
});

/** A link carrying a server-function error of the attacker's choosing (`__err`, base64url JSON). */
function craftedSignupLink(error: unknown): string {
  const encoded = Buffer.from(JSON.stringify(error)).toString("base64").replace(/\+/g, "-").replace(/\//g, "_");
  return `/signup?__path=${encodeURIComponent("/fn/signup")}&__err=${encodeURIComponent(encoded)}`;
}

const PHISHING = "Your account is suspended: call 555-0100";

for (const javaScriptEnabled of [true, false]) {
  test.describe(`a crafted signup link (JavaScript ${javaScriptEnabled ? "on" : "off"})`, () => {
    test.use({ javaScriptEnabled });

    test("shows only words the server says", async ({ page }) => {
      await page.goto(craftedSignupLink({ Validation: { username: PHISHING, password: "Password must be at least 8 characters" } }));
      if (javaScriptEnabled) await pageIsReady(page);
      const main = page.getByRole("main");
      await expect(main.getByText("Password must be at least 8 characters")).toBeVisible();
      await expect(main.getByText(PHISHING)).toHaveCount(0);
      await page.goto(craftedSignupLink({ Conflict: { field: "username", message: PHISHING } }));
      if (javaScriptEnabled) await pageIsReady(page);
      await expect(page.getByRole("heading", { name: "Create your account" })).toBeVisible();
      await expect(page.getByText(PHISHING)).toHaveCount(0);
    });
  });
}

test.describe("without JavaScript", () => {
  test.use({ javaScriptEnabled: false });

  test("login works as a plain form post", async ({ page, request }) => {
    const username = uniqueName("ivy");
    await accountExists(request, username);
    await page.goto("/login");
    const main = page.getByRole("main");
    await main.getByLabel("Username").fill(username);
    await main.getByLabel("Password").fill(PASSWORD);
    await main.getByRole("button", { name: "Log in" }).click();
    await expect(page).toHaveURL(/\/me$/);
    await expect(main.getByRole("heading", { name: username })).toBeVisible();
  });

  test("a wrong password is reported without JavaScript", async ({ page, request }) => {
    const username = uniqueName("jay");
    await accountExists(request, username);
    await page.goto("/login");
    const main = page.getByRole("main");
    await main.getByLabel("Username").fill(username);
    await main.getByLabel("Password").fill("wrong passphrase here");
    await main.getByRole("button", { name: "Log in" }).click();
    await expect(page.getByRole("alert")).toHaveText("Incorrect username or password");
  });

  test("signup works as a plain form post", async ({ page }) => {
    const username = uniqueName("kim");
    await page.goto("/signup");
    const main = page.getByRole("main");
    await main.getByLabel("Username").fill(username);
    await main.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await main.getByRole("button", { name: "Sign up" }).click();
    await expect(page).toHaveURL(/\/me$/);
    await expect(main.getByRole("heading", { name: username })).toBeVisible();
  });
});
