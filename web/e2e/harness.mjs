// Browser-test harness: builds the real binary (with the built web app
// embedded), seeds a data folder with internal/web/e2eseed, starts
// `shuqiao serve` on a free port, and drives Debian's Chromium through
// playwright-core. Chromium missing is a failure, never a skip.
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

export const webDir = resolve(new URL("..", import.meta.url).pathname);
export const repo = resolve(webDir, "..");
export const results = join(webDir, "test-results");
export const PASSWORD = "shuqiao-demo-2026";
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}

async function waitReady(url, proc, ms = 30000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (proc.exitCode !== null) throw new Error(`shuqiao exited with ${proc.exitCode}`);
    try {
      const r = await fetch(url + "/readyz");
      if (r.ok) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error("shuqiao did not become ready in time");
}

/** start builds, seeds and starts the platform, and launches Chromium. */
export async function start() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install chromium (CI's .ci/run does)`);
  }
  if (!existsSync(join(webDir, "dist", "index.html"))) {
    throw new Error("web/dist is not built: run `npm run build` (make web) first");
  }
  mkdirSync(results, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), "shuqiao-e2e-"));
  const bin = join(tmp, "shuqiao");
  const data = join(tmp, "data");
  const env = { ...process.env, GOFLAGS: process.env.GOFLAGS ?? "" };
  execFileSync("go", ["build", "-o", bin, "./cmd/shuqiao"], { cwd: repo, stdio: "inherit", env });
  execFileSync("go", ["run", "./internal/web/e2eseed", "--data", data], { cwd: repo, stdio: "inherit", env });
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = spawn(bin, ["serve", "--data", data, "--listen", `127.0.0.1:${port}`, "--log-level", "warn"], {
    cwd: tmp,
    stdio: ["ignore", "inherit", "inherit"],
  });
  await waitReady(url, proc);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  return {
    url,
    browser,
    async stop() {
      await browser.close().catch(() => {});
      proc.kill("SIGTERM");
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.once("exit", r)));
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/** newPage opens a page that fails the test on uncaught errors and CSP violations. */
export async function newPage(env, opts = {}) {
  const ctx = await env.browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "zh-CN", ...opts });
  const page = await ctx.newPage();
  page.errors = [];
  page.on("pageerror", (e) => page.errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 4\d\d/.test(m.text())) page.errors.push(m.text());
  });
  page.setDefaultTimeout(30000);
  return page;
}

export async function shot(page, name, { fullPage = true } = {}) {
  await page.screenshot({ path: join(results, `${name}.png`), fullPage });
}

/** login signs in through the login form. */
export async function login(page, url, username) {
  await page.goto(`${url}/login`);
  await page.getByTestId("login-username").fill(username);
  await page.getByTestId("login-password").fill(PASSWORD);
  await page.getByTestId("login-submit").click();
  await page.waitForURL((u) => !u.pathname.startsWith("/login"));
}

/** apiSession signs in over HTTP and returns a fetch that sends cookie and CSRF token. */
export async function apiSession(url, username) {
  const r = await fetch(`${url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  if (!r.ok) throw new Error(`login ${username}: ${r.status} ${await r.text()}`);
  const cookie = r.headers.get("set-cookie").split(";")[0];
  const { csrf_token } = await r.json();
  return async (path, body, method = body ? "POST" : "GET") => {
    const res = await fetch(url + path, {
      method,
      headers: { Cookie: cookie, "X-CSRF-Token": csrf_token, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  };
}

/** onFailure screenshots the page as FAIL-<name>.png when fn throws, then rethrows. */
export async function onFailure(page, name, fn) {
  try {
    await fn();
  } catch (e) {
    await page.screenshot({ path: join(results, `FAIL-${name}.png`), fullPage: true }).catch(() => {});
    throw e;
  }
}

/**
 * approvedShare publishes a conditional-share entry as gaj.steward, has
 * jtj.steward request it for scenario, and has the provider concur and the
 * authority approve: a grant exists when it returns. It returns the
 * provider's API session, the created entry and the request case.
 */
export async function approvedShare(url, { entry, scenario, legalDuty, fields }) {
  const provider = await apiSession(url, "gaj.steward");
  const d = await provider("/api/v1/catalog/resources", {
    data_class: "government",
    frequency: "daily",
    formats: ["json"],
    level: "important",
    share: { attr: "conditional", conditions: "仅限依法履职" },
    delivery: { mode: "hosted" },
    ...entry,
  });
  await provider(`/api/v1/catalog/resources/${d.resource_id}/publish`, { reason: "编目发布" });
  const consumer = await apiSession(url, "jtj.steward");
  const c = await consumer("/api/v1/share/requests", {
    resource_id: d.resource_id,
    scenario,
    legal_duty: legalDuty,
    fields,
    acknowledged: true,
  });
  await provider(`/api/v1/cases/${c.id}/actions/concur`, { reason: "同意" });
  await (await apiSession(url, "admin"))(`/api/v1/cases/${c.id}/actions/approve`, { reason: "符合条件" });
  return { provider, entry: d, request: c };
}
