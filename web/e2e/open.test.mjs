// Browser tests of open data (R-OPN-1, R-OPN-2, R-OPN-5, R-DEV-6) in Debian's
// Chromium against the real server, seeded with the demo city: the bus lines
// are open unconditionally, the market entities register conditionally
// (internal/demo/open.go). Screenshots land in web/test-results/open-*.png.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { apiSession, login, newPage, onFailure, shot, start } from "./harness.mjs";

let env;
let bus; // the bus lines: open unconditionally
let ents; // the market entities register: open on application
let provider; // the username of a steward of the market entities' providing org

// The demo's org slugs by name (internal/demo/demo.go), to sign in as the providing org.
const SLUGS = {
  市公安局: "gaj",
  市民政局: "mzj",
  市卫生健康委员会: "wjw",
  市交通运输局: "jtj",
  市市场监督管理局: "scjg",
  市人力资源和社会保障局: "rsj",
  市自然资源和规划局: "zrzy",
  市生态环境局: "sthj",
  市教育局: "jyj",
  市住房和建设局: "zjj",
  市财政局: "czj",
  市发展和改革委员会: "fgw",
  市司法局: "sfj",
  市农业农村局: "nyj",
  市商务局: "swj",
  市文化和旅游局: "wlj",
  市应急管理局: "yjj",
  市城市管理行政执法局: "cgj",
  市医疗保障局: "ybj",
  市统计局: "tjj",
  市水利局: "slj",
  市退役军人事务局: "tyjr",
  市人民政府国有资产监督管理委员会: "gzw",
  市行政审批服务局: "xzsp",
  市不动产登记中心: "bdcdj",
  市住房公积金管理中心: "gjj",
  市政府办公厅: "zsw",
  市自来水有限公司: "water",
  国网市供电公司: "power",
  市燃气集团有限公司: "gas",
  市公交集团有限公司: "bus",
  市轨道交通集团有限公司: "metro",
  市第一医院: "hosp1",
  市中心血站: "blood",
  市通信服务有限公司: "telecom",
  市环卫集团有限公司: "heat",
  市大数据有限公司: "bigdata",
  数据交易所有限公司: "exchange",
  海峡征信科技有限公司: "fintech",
  鹭岛空间信息科技有限公司: "mapco",
};

const noErrors = (page) => assert.deepEqual(page.errors, [], "page errors or CSP violations");
const json = async (path) => {
  const r = await fetch(env.url + path);
  assert.equal(r.status, 200, `${path}: ${r.status}`);
  return r.json();
};
const demandOf = async (id, notOpen = false) =>
  (await json(`/api/v1/open/demand?days=3650&limit=500${notOpen ? "&not_open=1" : ""}`)).items.find((d) => d.resource_id === id);

before(async () => {
  env = await start();
  const cat = await json("/api/v1/open/catalog?format=json");
  bus = cat.items.find((l) => l.open === "unconditional" && l.fields?.includes("line_no") && l.fields?.includes("fare"));
  ents = cat.items.find((l) => l.open === "conditional" && l.fields?.includes("credit_code") && l.fields?.includes("ent_name"));
  assert.ok(bus, "the demo's bus lines are open unconditionally");
  assert.ok(ents, "the demo's market entities are open on application");
  const res = await json(`/api/v1/catalog/resources/${ents.id}`);
  const orgs = (await json("/api/v1/orgs?limit=500")).items;
  const org = orgs.find((o) => o.id === res.org_id);
  assert.ok(org && SLUGS[org.name], `a demo login for the providing org ${org?.name}`);
  provider = SLUGS[org.name] + ".steward";
});
after(async () => {
  await env?.stop();
});

describe("unconditional open data (R-OPN-1, R-DEV-6)", () => {
  test("a citizen, not signed in, finds an open dataset and downloads it as CSV", async () => {
    const before = (await demandOf(bus.id)) ?? { downloads: 0, previews: 0 };
    const page = await newPage(env);
    await page.goto(env.url + "/");
    await page.getByRole("heading", { level: 1 }).waitFor();
    // The portal's open data page lists the open catalog.
    await page.getByRole("navigation", { name: "主导航" }).getByRole("link", { name: "开放清单" }).click();
    await page.waitForURL(/\/open$/);
    await page.getByRole("heading", { name: "开放数据", level: 1 }).waitFor();
    await page.getByTestId("open-free").waitFor();
    await page.getByTestId("open-filter").getByText(/^无条件开放/).click();
    await page.getByLabel("在开放目录中查找").fill(bus.name);
    await page.getByLabel("在开放目录中查找").press("Enter");
    const link = page.getByTestId("open-table").getByRole("link", { name: bus.name });
    await onFailure(page, "open-list", () => link.waitFor());
    await shot(page, "open-01-catalog");
    await link.click();
    await page.waitForURL(new RegExp(`/catalog/${bus.id}$`));
    await page.getByTestId("open-cta").click();
    await page.getByTestId("open-free").waitFor();
    assert.match(await page.getByTestId("open-free").innerText(), /免费/);
    await shot(page, "open-02-resource-downloads");

    // CSV: the file the browser receives has the entry's header and its rows.
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("open-download-csv").click()]);
    assert.match(download.suggestedFilename(), /\.csv$/);
    const text = readFileSync(await download.path(), "utf8").replace(/^\uFEFF/, "");
    const lines = text.trim().split(/\r?\n/);
    const header = lines[0].split(",");
    for (const f of ["line_no", "line_name", "fare"]) assert.ok(header.includes(f), `CSV header ${lines[0]} has ${f}`);
    assert.ok(lines.length > 10, `the CSV has rows: ${lines.length - 1}`);
    const receipt = page.getByTestId("open-receipt");
    await receipt.waitFor();
    assert.match(await receipt.innerText(), new RegExp(`已下载 ${lines.length - 1} 条记录（CSV）`));

    // The preview tab: the first rows in a table and a chart.
    await page.getByRole("tab", { name: "数据预览" }).click();
    await page.getByTestId("preview-table").locator("tbody tr.ant-table-row").first().waitFor();
    assert.equal(await page.getByTestId("preview-table").locator("tbody tr.ant-table-row").count(), 10);
    await page.locator('[role="img"] canvas').first().waitFor();
    await shot(page, "open-03-preview-chart");
    noErrors(page);
    await page.context().close();

    // The download is counted as demand, the preview apart from downloads (R-OPN-5).
    const after = await demandOf(bus.id);
    assert.equal(after.downloads, before.downloads + 1, `downloads ${before.downloads} → ${after.downloads}`);
    assert.ok(after.previews >= before.previews + 1, `previews ${before.previews} → ${after.previews}`);
  });

  test("anyone gets a free API key, shown once, and it raises the limit", async () => {
    const page = await newPage(env);
    await page.goto(env.url + "/open#key");
    await page.getByTestId("open-key-name").fill("公交到站提醒小程序");
    await page.getByTestId("open-key-submit").click();
    const value = page.getByTestId("open-key-value");
    await value.waitFor();
    const key = (await value.innerText()).trim();
    assert.ok(key.length >= 20, key);
    await shot(page, "open-04-api-key", { fullPage: false });
    const r = await fetch(`${env.url}/api/v1/open/data/${bus.id}?format=json&limit=2`, { headers: { "X-Open-Key": key } });
    assert.equal(r.status, 200);
    assert.equal((await r.json()).rows.length, 2);
    const bad = await fetch(`${env.url}/api/v1/open/data/${bus.id}?format=json&limit=2`, { headers: { "X-Open-Key": "not-a-key" } });
    assert.equal(bad.status, 401);
    noErrors(page);
    await page.context().close();
  });

  test("the open pages work at 375 px", async () => {
    const page = await newPage(env, { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true });
    for (const [path, name] of [
      ["/open", "open-05-mobile-list"],
      [`/catalog/${bus.id}?tab=open`, "open-06-mobile-resource"],
      [`/catalog/${ents.id}?tab=open`, "open-07-mobile-apply"],
    ]) {
      await page.goto(env.url + path);
      await page.getByRole("heading", { level: 1 }).waitFor();
      await page.waitForTimeout(300);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 375, `${path} is ${width}px wide at 375px`);
      await shot(page, name);
    }
    noErrors(page);
    await page.context().close();
  });
});

describe("conditional open data (R-OPN-2)", () => {
  test("an application is filed in the browser, approved by the reviewers, and the applicant downloads the data", async () => {
    // Anonymous callers are refused, and told to apply.
    const anon = await fetch(`${env.url}/api/v1/open/data/${ents.id}?format=csv`);
    assert.equal(anon.status, 403);
    assert.equal((await anon.json()).code, "open.conditional");

    const page = await newPage(env);
    // Signing in from the form comes back to it.
    await page.goto(`${env.url}/catalog/${ents.id}?tab=open`);
    await page.getByTestId("open-apply-login").click();
    await page.waitForURL(/\/login\?next=/);
    await page.getByTestId("login-username").fill("mapco.admin");
    await page.getByTestId("login-password").fill("shuqiao-demo-2026");
    await page.getByTestId("login-submit").click();
    await page.waitForURL(new RegExp(`/catalog/${ents.id}\\?tab=open$`));
    const form = page.getByTestId("open-apply-form");
    await form.waitFor();
    const scenario = "地图兴趣点核验：核对企业名称与登记辖区";
    await page.getByTestId("open-apply-scenario").fill(scenario);
    for (const f of ["credit_code", "ent_name", "district"]) await form.getByRole("checkbox", { name: new RegExp(`（${f}）`) }).check();
    // Without the commitments the form does not go.
    await page.getByTestId("open-apply-submit").click();
    await form.getByText("须逐项确认全部四项承诺").waitFor();
    for (const c of ["申请材料及所述应用场景真实", "依法合规使用开放数据，仅用于所述场景", "采取必要措施保障数据安全", "不以任何形式向第三方提供"])
      await form.getByRole("checkbox", { name: c }).check();
    await shot(page, "open-08-application-form");
    await page.getByTestId("open-apply-submit").click();
    const done = page.getByTestId("open-apply-done");
    await onFailure(page, "open-apply", () => done.waitFor());
    assert.match(await done.innerText(), /已核验申请人：企业 鹭岛空间信息科技有限公司/);
    const caseId = (await page.getByTestId("open-apply-case").getAttribute("href")).split("/").pop();

    // The case carries the verified identity, the scenario, the fields and the commitments.
    const mapco = await apiSession(env.url, "mapco.admin");
    const c = await mapco(`/api/v1/cases/${caseId}`);
    assert.equal(c.kind, "open_application");
    assert.equal(c.state, "submitted");
    assert.equal(c.payload.applicant.type, "enterprise");
    assert.equal(c.payload.scenario, scenario);
    assert.deepEqual(c.payload.fields, ["credit_code", "ent_name", "district"]);
    assert.deepEqual(c.payload.commitments, { authenticity: true, compliance: true, security: true, no_third_party: true });

    // The providing org concurs; the authority approves in its console.
    await (await apiSession(env.url, provider))(`/api/v1/cases/${caseId}/actions/concur`, { reason: "数据项为公开登记信息，场景明确" });
    const admin = await newPage(env);
    await login(admin, env.url, "admin");
    await admin.goto(`${env.url}/console/cases/${caseId}`);
    await admin.getByTestId("case-title").waitFor();
    // The reviewers read the verified applicant and each commitment.
    const applicantItem = admin.getByText(/类型：企业/);
    await applicantItem.waitFor();
    assert.match(await applicantItem.innerText(), /名称：鹭岛空间信息科技有限公司/);
    const commitments = await admin.getByText(/真实性：是/).innerText();
    for (const c of ["合规使用：是", "数据安全：是", "不向第三方提供：是"]) assert.ok(commitments.includes(c), commitments);
    await shot(admin, "open-09-application-case-authority");
    await admin.getByTestId("act-approve").click();
    await admin.getByTestId("act-reason").fill("申请人已核验，数据项最小够用，同意");
    await admin.locator("#act-confirm").click();
    await onFailure(admin, "open-approve", () => admin.getByTestId("case-decision").waitFor());
    noErrors(admin);
    await admin.context().close();

    // The applicant's page now offers downloads under the grant: only the fields granted.
    await page.goto(`${env.url}/catalog/${ents.id}?tab=open`);
    const grants = page.getByTestId("open-grants");
    await onFailure(page, "open-grant", () => grants.waitFor());
    await shot(page, "open-10-grant-downloads");
    const [download] = await Promise.all([page.waitForEvent("download"), grants.getByTestId("open-download-csv").first().click()]);
    const lines = readFileSync(await download.path(), "utf8").replace(/^\uFEFF/, "").trim().split(/\r?\n/);
    assert.deepEqual(lines[0].split(","), ["credit_code", "ent_name", "district"]);
    assert.ok(lines.length > 10, `rows: ${lines.length - 1}`);
    await grants.getByTestId("open-receipt").waitFor();
    noErrors(page);
    await page.context().close();
  });

  test("an application refused with a written reason: the reason reaches the applicant", async () => {
    const mapco = await apiSession(env.url, "mapco.admin");
    const c = await mapco("/api/v1/open/applications", {
      resource_id: ents.id,
      scenario: "企业画像营销",
      fields: ["credit_code", "ent_name", "address", "registered_capital"],
      days: 365,
      commitments: { authenticity: true, compliance: true, security: true, no_third_party: true },
    });
    const reason = "营销用途不属于开放数据的应用场景，且住所数据项超出所需，不予开放";

    const page = await newPage(env);
    await login(page, env.url, provider);
    await page.goto(`${env.url}/console/cases/${c.id}`);
    await page.getByTestId("case-title").waitFor();
    await page.getByTestId("act-refuse").click();
    await page.getByTestId("act-reason").fill(reason);
    await page.locator("#act-confirm").click();
    await onFailure(page, "open-refuse", () => page.getByTestId("case-decision").getByText(reason).waitFor());
    noErrors(page);
    await page.context().close();

    // The applicant reads the refusal and its reason on the case.
    const applicant = await newPage(env);
    await login(applicant, env.url, "mapco.admin");
    await applicant.goto(`${env.url}/console/cases/${c.id}`);
    const decision = applicant.getByTestId("case-decision");
    await onFailure(applicant, "open-refused-applicant", () => decision.getByText(reason).waitFor());
    await shot(applicant, "open-11-application-refused");
    noErrors(applicant);
    await applicant.context().close();
    const seen = await mapco(`/api/v1/cases/${c.id}`);
    assert.equal(seen.state, "refused");
    assert.equal(seen.decision.reason, reason);
  });
});

describe("objections (R-QLT-2)", () => {
  test("a signed-in user objects to a record of an open dataset; the form asks for the record key", async () => {
    const page = await newPage(env);
    await login(page, env.url, "mapco.steward");
    await page.goto(`${env.url}/catalog/${bus.id}?tab=objection`);
    const form = page.getByTestId("objection-form");
    await form.getByTestId("objection-title").fill("1路票价有误");
    // The form asks for the dataset's record key (line_no) at once …
    await onFailure(page, "objection-prefill", () => form.getByText("线路编号（line_no）").waitFor());
    // … and a person who names the record by another data item instead …
    await form.getByLabel("第 1 个主键数据项").fill("line_name");
    await form.getByLabel("第 1 个主键数据项").press("Enter");
    await form.getByLabel("第 1 个主键的值").fill("1路");
    await form.getByLabel("有误的数据项").fill("fare");
    await form.getByLabel("有误的数据项").press("Enter");
    await form.getByTestId("objection-problem").fill("1路票价应为 1 元，数据为 2 元");
    await page.getByTestId("objection-submit").click();
    // … is told by the answer which key it is, and asked for it again.
    await onFailure(page, "objection-key", () => page.getByTestId("objection-error").getByText(/line_no/).waitFor());
    await form.getByText("线路编号（line_no）").waitFor();
    await form.getByLabel("第 1 个主键的值").fill("1");
    await shot(page, "open-16-objection-form");
    await page.getByTestId("objection-submit").click();
    await onFailure(page, "objection-done", () => page.getByTestId("objection-done").waitFor());
    const href = await page.getByTestId("objection-done").getByRole("link").getAttribute("href");
    const c = await (await apiSession(env.url, "mapco.steward"))(`/api/v1/cases/${href.split("/").pop()}`);
    assert.equal(c.kind, "objection");
    assert.deepEqual(c.payload.key, { line_no: "1" });
    assert.equal(c.payload.field, "fare");
    assert.equal(c.target.id, bus.id);
    noErrors(page);
    await page.context().close();
  });
});

describe("demand (R-OPN-5)", () => {
  test("the public asks for data to be opened, and the authority sees the demand ranking", async () => {
    const found = await json(`/api/v1/catalog/search?open=none&limit=5`);
    const wanted = found.items.find((r) => r.open.attr === "none" && r.status === "published");
    assert.ok(wanted, "a not-open entry");
    const before = (await demandOf(wanted.id, true))?.requests ?? 0;

    // Anyone, not signed in, asks for it to be opened.
    const page = await newPage(env);
    await page.goto(`${env.url}/catalog/${wanted.id}`);
    await page.getByTestId("open-cta").click();
    await page.getByTestId("open-request-note").fill("希望开放用于城市研究");
    await page.getByTestId("open-request-submit").click();
    await onFailure(page, "open-request", () => page.getByTestId("open-request-done").waitFor());
    noErrors(page);
    await page.context().close();
    assert.equal((await demandOf(wanted.id, true))?.requests, before + 1);

    const admin = await newPage(env);
    await login(admin, env.url, "admin");
    await admin.getByRole("menuitem", { name: "开放数据" }).click();
    await admin.waitForURL(/\/authority\/open/);
    const table = admin.getByTestId("demand-table");
    await onFailure(admin, "open-demand", () => table.getByRole("link", { name: bus.name }).waitFor());
    await admin.locator('[role="img"] canvas').first().waitFor();
    await shot(admin, "open-12-authority-demand");
    // The open-priority list: not yet open unconditionally, the request counted.
    await admin.getByTestId("demand-list").getByText("优先开放清单").click();
    const row = table.locator("tr", { hasText: wanted.name });
    await onFailure(admin, "open-priority", () => row.waitFor());
    assert.equal(await table.getByRole("link", { name: bus.name }).count(), 0, "the unconditional bus lines are not on the priority list");
    await shot(admin, "open-13-authority-priority");
    noErrors(admin);
    await admin.context().close();
  });

  test("the authority files the periodic review cases due (R-OPN-3)", async () => {
    const admin = await newPage(env);
    await login(admin, env.url, "admin");
    await admin.goto(`${env.url}/authority/open?tab=reviews`);
    await admin.getByTestId("reviews-run").click();
    await onFailure(admin, "open-reviews", () => admin.getByText(/已立案 \d+ 件评估/).first().waitFor());
    await shot(admin, "open-14-authority-reviews");
    noErrors(admin);
    await admin.context().close();
  });
});

describe("risk (R-OPN-6)", () => {
  test(
    "the authority runs the re-identification risk scan",
    async () => {
      const admin = await newPage(env);
      await login(admin, env.url, "admin");
      await admin.goto(`${env.url}/authority/open?tab=risk`);
      await admin.getByTestId("risk-scan").click();
      await onFailure(admin, "open-risk", () => admin.getByTestId("risk-table").waitFor({ timeout: 60000 }));
      // The market entities register is opened hosted data with a quasi-identifier (district): it is scanned.
      await admin.getByTestId("risk-table").getByRole("link", { name: ents.name }).waitFor();
      await shot(admin, "open-15-authority-risk");
      noErrors(admin);
      await admin.context().close();
    },
  );
});
