import { expect, test, type Page } from "@playwright/test";
import { admin } from "../playwright.config";
import { watchForErrors } from "./support/page-errors";
import { PASSWORD, accountExists, logsIn, pageIsReady, uniqueName } from "./support/person";

/** Records every Content-Security-Policy violation the page reports, from its first script on. */
async function recordCspViolations(page: Page) {
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { __cspViolations: string[] }).__cspViolations = seen;
    document.addEventListener("securitypolicyviolation", (e) => {
      seen.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
}

async function cspViolations(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { __cspViolations: string[] }).__cspViolations);
}

test("every page hydrates under its CSP without a single violation", async ({ browser, page, request }) => {
  const username = uniqueName("csp");
  await accountExists(request, username);
  await recordCspViolations(page);
  const errors = watchForErrors(page);

  const visit = async (path: string) => {
    const response = await page.goto(path);
    const csp = response?.headers()["content-security-policy"] ?? "";
    expect(csp, path).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9_-]{16,}' 'wasm-unsafe-eval'/);
    expect(csp, path).not.toContain("unsafe-inline");
    await pageIsReady(page);
    expect(await cspViolations(page), path).toEqual([]);
  };
  for (const path of ["/", "/signup", "/login", "/no/such/page"]) await visit(path);

  // Signed in as a person, then as an admin: the pages that show account data.
  await logsIn(page, username);
  await expect(page).toHaveURL(/\/me$/);
  expect(await cspViolations(page)).toEqual([]);
  await visit("/me");
  await visit("/admin/users");
  // The 404 and 403 pages are loaded with those statuses, which Chromium logs; nothing else.
  expect(errors.filter((e) => !/status of 40[34]/.test(e))).toEqual([]);

  // An admin, in a browser of their own.
  const adminContext = await browser.newContext();
  const adminPage = await adminContext.newPage();
  await recordCspViolations(adminPage);
  const adminErrors = watchForErrors(adminPage);
  await logsIn(adminPage, admin.username, admin.password);
  await expect(adminPage).toHaveURL(/\/me$/);
  await adminPage.goto("/admin/users");
  await pageIsReady(adminPage);
  await expect(adminPage.getByRole("table")).toBeVisible();
  expect(await cspViolations(adminPage)).toEqual([]);
  expect(adminErrors).toEqual([]);
  await adminContext.close();
});

test("a guesser is slowed down and the login form says how long to wait", async ({ page, request }) => {
  const username = uniqueName("guessed");
  await accountExists(request, username);
  await page.goto("/login");
  await pageIsReady(page);
  const form = page.getByRole("main");
  const tries = async (password: string) => {
    await form.getByLabel("Username").fill(username);
    await form.getByLabel("Password").fill(password);
    await form.getByRole("button", { name: "Log in" }).click();
  };
  // The server allows 5 consecutive failures per account (GATEHOUSE_LIMIT_LOGIN_PER_ACCOUNT).
  for (let attempt = 1; attempt <= 5; attempt++) {
    await tries(`wrong guess number ${attempt}`);
    await expect(page.getByRole("alert")).toHaveText("Incorrect username or password");
    await expect(form.getByRole("button", { name: "Log in" })).toBeEnabled();
  }
  // At once, even the right password waits, and the person is told so rather than "incorrect".
  await tries(PASSWORD);
  await expect(page.getByRole("alert")).toContainText(/Too many attempts; please wait (a second|\d+ seconds)/);
  await expect(page).toHaveURL(/\/login/);
  // After the wait, the right password gets in.
  await page.waitForTimeout(2_100);
  await tries(PASSWORD);
  await expect(page).toHaveURL(/\/me$/);
});
