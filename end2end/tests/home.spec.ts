import { expect, test } from "@playwright/test";
import { waitForHydration, watchForErrors } from "./support/page-errors";

test("the home page is rendered on the server before any script runs", async ({ request }) => {
  const response = await request.get("/");
  expect(response.status()).toBe(200);
  const html = await response.text();
  expect(html).toContain("<nav");
  expect(html).toContain("Gatehouse");
  expect(html).toContain('aria-expanded="false"');
});

test("the home page hydrates: the API quick start opens and closes", async ({ page }) => {
  const errors = watchForErrors(page);
  await page.goto("/");
  await waitForHydration(page);

  const quickStart = page.locator("#api-quick-start");
  await expect(quickStart).toBeHidden();
  await page.getByRole("button", { name: "Show the API quick start" }).click();
  await expect(quickStart).toBeVisible();
  await expect(quickStart).toContainText("/api/v1/auth/token");
  const hide = page.getByRole("button", { name: "Hide the API quick start" });
  await expect(hide).toHaveAttribute("aria-expanded", "true");
  await hide.click();
  await expect(quickStart).toBeHidden();

  expect(errors).toEqual([]);
});

test("the navigation bar offers Log in and Sign up to a signed-out visitor", async ({ page }) => {
  await page.goto("/");
  const nav = page.getByRole("navigation", { name: "Main" });
  await expect(nav.getByRole("link", { name: "Log in" })).toHaveAttribute("href", "/login");
  await expect(nav.getByRole("link", { name: "Sign up" })).toHaveAttribute("href", "/signup");
});

test("an unknown page answers 404 with a way home", async ({ page }) => {
  const response = await page.goto("/no/such/page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
});

test("the JSON API answers next to the pages", async ({ request }) => {
  const response = await request.get("/api/v1/health");
  expect(response.status()).toBe(200);
  expect(await response.json()).toEqual({ status: "ok" });
});
