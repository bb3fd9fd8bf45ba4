import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { admin } from "../playwright.config";
import { accountExists, logsIn, pageIsReady, uniqueName } from "./support/person";

/** Every page, as the person who would see it. */
const pages: { name: string; path: string; as: "anonymous" | "user" | "admin" }[] = [
  { name: "home", path: "/", as: "anonymous" },
  { name: "signup", path: "/signup", as: "anonymous" },
  { name: "login", path: "/login", as: "anonymous" },
  { name: "login-code", path: "/login?step=code", as: "anonymous" },
  { name: "me", path: "/me", as: "user" },
  { name: "me-security", path: "/me/security", as: "user" },
  { name: "reset-password", path: "/reset-password#token=not-a-real-token", as: "anonymous" },
  { name: "admin-users", path: "/admin/users", as: "admin" },
  // `{user}`: the account the test made.
  { name: "admin-user", path: "/admin/users/{user}", as: "admin" },
  { name: "admin-audit", path: "/admin/audit", as: "admin" },
  { name: "forbidden", path: "/admin/users", as: "user" },
  { name: "not-found", path: "/no/such/page", as: "anonymous" },
];

async function visitAs(page: Page, who: "anonymous" | "user" | "admin", path: string, username: string, userId = "") {
  path = path.replace("{user}", userId);
  if (who === "user") {
    await logsIn(page, username);
    await expect(page).toHaveURL(/\/me$/);
  } else if (who === "admin") {
    await logsIn(page, admin.username, admin.password);
    await expect(page).toHaveURL(/\/me$/);
  }
  await page.goto(path);
  await pageIsReady(page);
  if (path === "/admin/users" && who === "admin") await expect(page.getByRole("table")).toBeVisible();
  if (path.startsWith("/admin/users/") || path === "/admin/audit") await expect(page.getByRole("table").first()).toBeVisible();
  if (path === "/me/security") await expect(page.getByRole("region", { name: "Where you're signed in" }).getByRole("table")).toBeVisible();
}

for (const { name, path, as } of pages) {
  test(`the ${name} page has no serious or critical accessibility violation`, async ({ page, request }) => {
    const username = uniqueName("axe");
    const account = await accountExists(request, username);
    await visitAs(page, as, path, username, account.id);
    const results = await new AxeBuilder({ page }).analyze();
    const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    expect(serious.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`)).toEqual([]);
  });
}

test.describe("screenshots", () => {
  const viewports = [
    { label: "laptop", width: 1280, height: 800 },
    { label: "phone", width: 390, height: 844 },
  ];
  for (const scheme of ["light", "dark"] as const) {
    for (const viewport of viewports) {
      test(`every page at ${viewport.width}x${viewport.height}, ${scheme}`, async ({ browser, request }) => {
        test.setTimeout(120_000);
        const context = await browser.newContext({ viewport, colorScheme: scheme });
        const username = uniqueName("shot");
        const account = await accountExists(request, username);
        for (const { name, path, as } of pages) {
          const page = await context.newPage();
          await visitAs(page, as, path, username, account.id);
          await page.screenshot({ path: `screenshots/${name}-${viewport.label}-${scheme}.png`, fullPage: false });
          // Sign out again through the page so the next visit starts as its own person.
          if (as !== "anonymous") await context.clearCookies();
          await page.evaluate(() => localStorage.clear());
          await page.close();
        }
        await context.close();
      });
    }
  }
});
