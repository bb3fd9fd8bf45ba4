import { defineConfig } from "@playwright/test";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// The release server, started fresh for every run on its own empty SQLite file and a free
// port (E2E_PORT pins one). The choice goes into the environment so that the worker
// processes, which load this file again, agree on it.
if (!process.env.E2E_PORT) {
  const script = "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})";
  process.env.E2E_PORT = execFileSync(process.execPath, ["-e", script]).toString().trim();
}
const port = Number(process.env.E2E_PORT);
const baseURL = `http://127.0.0.1:${port}`;
const dataDir = mkdtempSync(join(tmpdir(), "gatehouse-e2e-"));

export const admin = { username: "e2e_admin", password: "e2e admin passphrase" };

export default defineConfig({
  testDir: "./tests",
  fullyParallel: false,
  workers: 1,
  // On CI, a failed test runs once more and is reported as "flaky" when the second try
  // passes: one rare fault (a page that did not hydrate, since found and fixed; see the
  // README) must not sink a run, and the list reporter still names it.
  retries: process.env.CI ? 1 : 0,
  forbidOnly: !!process.env.CI,
  reporter: [["list"]],
  timeout: 30_000,
  use: {
    baseURL,
    trace: "retain-on-failure",
    launchOptions: {
      // Debian's Chromium: Playwright never downloads a browser here.
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  webServer: {
    command: "./target/release/gatehouse",
    cwd: "..",
    url: `${baseURL}/api/v1/health`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      LEPTOS_SITE_ROOT: "target/site",
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      GATEHOUSE_DATABASE_URL: `sqlite://${join(dataDir, "gatehouse.db")}`,
      GATEHOUSE_MASTER_KEY: "end-to-end-test-master-key-0123456789abcdef",
      GATEHOUSE_ACCESS_TOKEN_TTL: "5",
      // The suite signs up far more people from 127.0.0.1 than a real address would; login
      // throttling keeps its documented defaults (security.spec.ts relies on 5 per account).
      GATEHOUSE_LIMIT_REGISTER_PER_ADDRESS: "0",
      GATEHOUSE_LIMIT_LOGIN_PER_ACCOUNT: "5",
      GATEHOUSE_ADMIN_USERNAME: admin.username,
      GATEHOUSE_ADMIN_PASSWORD: admin.password,
      RUST_LOG: "warn",
    },
  },
});
