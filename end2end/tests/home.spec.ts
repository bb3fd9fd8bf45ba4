import { expect, test } from "@playwright/test";
import { watchForErrors } from "./support/page-errors";
import { PASSWORD, pageIsReady, uniqueName } from "./support/person";

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
  await pageIsReady(page);

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

test("the home page loads the main WASM bundle only; another page's code arrives when it is shown", async ({ page }) => {
  const errors = watchForErrors(page);
  const wasm: string[] = [];
  page.on("request", (request) => {
    const path = new URL(request.url()).pathname;
    if (path.endsWith(".wasm")) wasm.push(path);
  });
  await page.goto("/");
  await pageIsReady(page);
  expect(wasm).toEqual(["/pkg/gatehouse.wasm"]);

  // A client-side navigation fetches the login page's chunk, and the page works.
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByRole("main").getByLabel("Username")).toBeVisible();
  expect(wasm.some((path) => /^\/pkg\/split___login_route_view_\d+\.wasm$/.test(path))).toBe(true);
  expect(wasm.some((path) => path.includes("admin_users"))).toBe(false);
  expect(errors).toEqual([]);
  // (A refused login logs the server function's 400 in the console: checked before it.)
  const form = page.getByRole("main");
  await form.getByLabel("Username").fill(uniqueName("nobody"));
  await form.getByLabel("Password").fill(PASSWORD);
  await form.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("alert")).toHaveText("Incorrect username or password");
});
