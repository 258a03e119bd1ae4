// Browser tests of the web app in Debian's Chromium against the real server.
// Screenshots land in web/test-results/.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { apiSession, approvedShare, login, newPage, onFailure, shot, start } from "./harness.mjs";

let env;
before(async () => {
  env = await start();
});
after(async () => {
  await env?.stop();
});

const noErrors = (page) => assert.deepEqual(page.errors, [], "page errors or CSP violations");

describe("portal (no sign-in)", () => {
  let entry;
  before(async () => {
    // A water company steward publishes an open entry through the API.
    const call = await apiSession(env.url, "water.steward");
    const d = await call("/api/v1/catalog/resources", {
      name: "城市供水水质监测数据",
      description: "全市水厂出厂水及管网水的浊度、余氯等水质指标，每日更新。",
      data_class: "public_service",
      themes: ["environment", "living"],
      frequency: "daily",
      formats: ["csv", "json"],
      level: "important",
      share: { attr: "unconditional" },
      open: { attr: "unconditional" },
      delivery: { mode: "hosted" },
      contact: { name: "水质科", phone: "0592-0000000" },
      tags: ["水质", "供水"],
      fields: [
        { name: "plant", label: "水厂名称", type: "string", level: "general", required: true },
        { name: "sampled_at", label: "采样时间", type: "datetime", level: "general" },
        { name: "turbidity", label: "浊度", type: "decimal", level: "general", description: "NTU" },
        { name: "inspector_phone", label: "检测员电话", type: "string", level: "important", personal: true },
      ],
    });
    const r = await call(`/api/v1/catalog/resources/${d.resource_id}/publish`, { reason: "首次发布" });
    entry = r.resource;
    assert.equal(entry.status, "published");
  });

  test("a citizen finds a published entry by search and opens it", async () => {
    const page = await newPage(env);
    await page.goto(env.url + "/");
    await page.getByRole("heading", { level: 1 }).waitFor();
    await page.locator(".ant-statistic").first().waitFor();
    await shot(page, "01-home");
    await page.getByLabel("搜索数据目录").first().fill("水质");
    await page.getByLabel("搜索数据目录").first().press("Enter");
    await page.waitForURL(/\/catalog\?q=/);
    const result = page.getByTestId("result-link").filter({ hasText: entry.name });
    await result.waitFor();
    assert.match(await page.getByTestId("search-total").innerText(), /共 1 条/);
    // Facets carry the counts of the results.
    await page.getByTestId("facet-theme-environment").first().waitFor();
    await shot(page, "02-search");
    await result.click();
    await page.waitForURL(new RegExp(`/catalog/${entry.id}$`));
    assert.equal(await page.getByTestId("resource-title").innerText(), entry.name);
    await page.getByTestId("timeliness").waitFor();
    // Links to the CKAN-compatible API and DCAT, and they answer.
    for (const name of ["CKAN 兼容接口", "DCAT 目录（JSON-LD）"]) {
      const href = await page.getByRole("link", { name }).getAttribute("href");
      const res = await fetch(env.url + href);
      assert.equal(res.status, 200, `${name} ${href}`);
    }
    await shot(page, "03-resource");
    // Fields with their levels.
    await page.getByRole("tab", { name: /数据项/ }).click();
    const fields = page.getByTestId("fields-table");
    await fields.getByText("检测员电话").waitFor();
    assert.ok(await fields.getByText("重要").isVisible());
    assert.ok(await fields.getByText("个人信息").isVisible());
    await shot(page, "04-resource-fields");
    // This resource's API docs, with copyable curl examples that work.
    await page.getByRole("tab", { name: "接口文档" }).click();
    const code = await page.locator("pre.code").first().innerText();
    assert.ok(code.includes(`/api/v1/catalog/resources/${entry.id}`), code);
    const url = code.match(/'([^']+)'/)[1];
    const got = await (await fetch(url)).json();
    assert.equal(got.id, entry.id);
    await shot(page, "05-resource-api");
    noErrors(page);
    await page.context().close();
  });

  test("the portal works at 375 px", async () => {
    const page = await newPage(env, { viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true });
    for (const [path, name] of [
      ["/", "06-mobile-home"],
      ["/catalog?q=%E6%B0%B4%E8%B4%A8", "07-mobile-search"],
      [`/catalog/${entry.id}`, "08-mobile-resource"],
    ]) {
      await page.goto(env.url + path);
      await page.getByRole("heading", { level: 1 }).waitFor();
      await page.waitForTimeout(300);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 375, `${path} is ${width}px wide at 375px`);
      await shot(page, name);
    }
    // The menu opens from its labelled button.
    await page.getByRole("button", { name: "菜单" }).click();
    await page.getByRole("dialog").getByRole("link", { name: "数据目录" }).waitFor();
    noErrors(page);
    await page.context().close();
  });

  test("keyboard: skip link first; English switch", async () => {
    const page = await newPage(env);
    await page.goto(env.url + "/catalog");
    await page.getByRole("heading", { level: 1 }).waitFor();
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), "跳到主要内容");
    await page.keyboard.press("Enter");
    assert.equal(await page.evaluate(() => document.activeElement?.id), "main");
    await page.getByTestId("lang-switch").click();
    await page.getByRole("link", { name: "Data catalog" }).first().waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.lang), "en");
    await page.reload();
    await page.getByRole("heading", { name: "Data catalog" }).waitFor();
    await shot(page, "09-catalog-english");
    noErrors(page);
    await page.context().close();
  });
});

describe("org console", () => {
  test("a department steward publishes an entry", async () => {
    const name = "道路交通违法处理点位";
    const page = await newPage(env);
    await login(page, env.url, "gaj.steward");
    await page.waitForURL(/\/console\/catalog$/);
    await page.getByTestId("new-entry").click();
    await page.waitForURL(/\/console\/catalog\/new$/);
    await page.getByTestId("entry-name").fill(name);
    await page.getByTestId("entry-description").fill("全市交通违法处理窗口的名称、地址和办公时间。");
    await page.getByTestId("entry-themes").click();
    await page.locator(".ant-select-item-option", { hasText: "道路交通" }).click();
    await page.keyboard.press("Escape");
    await page.getByTestId("field-name-0").fill("site_name");
    await page.getByTestId("field-label-0").fill("处理点名称");
    await shot(page, "10-console-editor");
    await page.getByTestId("entry-publish").click();
    await page.getByTestId("publish-reason").fill("首次编目发布");
    await page.waitForTimeout(400); // the dialog's zoom-in
    await shot(page, "11-console-publish-dialog", { fullPage: false });
    await page.locator("#publish-confirm").click();
    // Published: the steward lands on the entry's public page.
    await page.waitForURL(/\/catalog\/[0-9a-f-]+$/);
    await onFailure(page, "steward", () => page.getByTestId("resource-title").getByText(name).waitFor());
    await page.getByText("已发布").first().waitFor();
    await shot(page, "12-console-published");
    // It has left the drafts tab.
    await page.goto(env.url + "/console/catalog");
    await page.getByRole("tab", { name: /草稿/, selected: true }).waitFor();
    await page.waitForLoadState("networkidle");
    await page.locator(".ant-table, .ant-alert").first().waitFor();
    assert.equal(await page.getByText(name).count(), 0, "still listed among drafts");
    noErrors(page);
    await page.context().close();

    // Anyone can now find it.
    const res = await (await fetch(`${env.url}/api/v1/catalog/search?q=${encodeURIComponent("违法处理")}`)).json();
    assert.equal(res.items[0]?.name, name);
  });
});

describe("catalog import", () => {
  test("a steward re-imports the org's catalog from XLSX as drafts", async () => {
    // The org's published catalog, exported in the import layout (public).
    const me = await (await apiSession(env.url, "water.steward"))("/api/v1/me");
    const res = await fetch(`${env.url}/api/v1/catalog/export.xlsx?org=${me.org.id}`);
    assert.equal(res.status, 200);
    const file = join(tmpdir(), `shuqiao-water-${process.pid}.xlsx`);
    writeFileSync(file, Buffer.from(await res.arrayBuffer()));
    const published = (await (await fetch(`${env.url}/api/v1/catalog/resources?org=${me.org.id}&limit=500`)).json()).items.length;

    const page = await newPage(env);
    await login(page, env.url, "water.steward");
    await page.getByTestId("import-open").click();
    await page.locator('.ant-modal input[type="file"]').setInputFiles(file);
    await page.getByRole("button", { name: "导入", exact: true }).click();
    const done = page.locator(".ant-modal .ant-alert-success");
    // Importing checks every entry's fields for duplicates across the catalog: allow for a loaded machine.
    await onFailure(page, "import", () => done.waitFor({ timeout: 120000 }));
    assert.match(await done.innerText(), new RegExp(`新建 0 条，更新 ${published} 条，发布 0 条`));
    await shot(page, "20-console-import", { fullPage: false });
    await page.locator(".ant-modal-footer").getByRole("button", { name: "关闭" }).click();
    // Every entry now has a draft waiting to be published.
    await page.getByRole("tab", { name: /草稿/, selected: true }).waitFor();
    await page.getByText("有未发布修改").first().waitFor();
    noErrors(page);
    await page.context().close();
    rmSync(file, { force: true });
  });
});

describe("sharing between orgs", () => {
  test("a reviewer refuses a share request and the reason reaches the applicant", async () => {
    // The public security bureau catalogs a conditionally shared entry; the
    // civil affairs bureau asks for two of its fields.
    const provider = await apiSession(env.url, "gaj.steward");
    const d = await provider("/api/v1/catalog/resources", {
      name: "流动人口居住登记信息",
      description: "流动人口居住登记的姓名、证件号码和居住地址。",
      data_class: "government",
      themes: ["public_security"],
      frequency: "daily",
      formats: ["json"],
      level: "important",
      share: { attr: "conditional", conditions: "仅限依法履行社会救助职责使用" },
      open: { attr: "none", basis: "《中华人民共和国个人信息保护法》第十三条", reason: "含个人信息" },
      delivery: { mode: "hosted" },
      fields: [
        { name: "person_name", label: "姓名", type: "string", level: "important", personal: true },
        { name: "id_number", label: "公民身份号码", type: "string", level: "important", personal: true, sensitive: true },
        { name: "address", label: "居住地址", type: "string", level: "important", personal: true },
      ],
    });
    await provider(`/api/v1/catalog/resources/${d.resource_id}/publish`, { reason: "编目发布" });
    // The civil affairs bureau's steward asks for two of its fields from the entry's page.
    const applicant = await newPage(env);
    await login(applicant, env.url, "mzj.steward");
    await applicant.goto(`${env.url}/catalog/${d.resource_id}`);
    await applicant.getByTestId("share-open").click();
    await applicant.getByTestId("share-scenario").fill("最低生活保障对象入户核查");
    await applicant.getByTestId("share-duty").fill("《社会救助暂行办法》第十一条");
    await applicant.getByLabel("姓名（person_name）").check();
    await applicant.getByLabel("居住地址（address）").check();
    await applicant.getByTestId("share-ack").check();
    await applicant.waitForTimeout(400); // the dialog's zoom-in
    await shot(applicant, "16-share-request-form", { fullPage: false });
    await applicant.locator("#share-submit").click();
    await applicant.waitForURL(/\/console\/cases\/[0-9a-f-]+$/);
    const caseId = applicant.url().split("/").pop();
    const c = { id: caseId, title: "共享申请：流动人口居住登记信息" };
    assert.equal(await applicant.getByTestId("case-title").innerText(), c.title);
    noErrors(applicant);
    const reason = "申请的数据项超出入户核查所需，请改用人口基础库核验服务";

    const page = await newPage(env);
    await login(page, env.url, "gaj.steward");
    await page.goto(`${env.url}/console/cases`);
    await page.getByRole("tab", { name: "待我办理", selected: true }).waitFor();
    await onFailure(page, "share-inbox", () => page.getByTestId("cases-table").getByRole("link", { name: c.title }).first().click());
    await page.getByTestId("case-title").waitFor();
    await shot(page, "17-share-request-inbox-case");
    await page.getByTestId("act-refuse").click();
    await page.getByTestId("act-reason").fill(reason);
    await page.locator("#act-confirm").click();
    await page.getByTestId("case-decision").getByText(reason).waitFor();
    noErrors(page);
    await page.context().close();

    // The applicant is notified, opens the case from the notification, and
    // sees the refusal and its written reason.
    await applicant.goto(`${env.url}/console/cases?view=filed`);
    await applicant.getByTestId("notifications").click();
    await applicant.getByRole("tooltip").getByRole("button", { name: new RegExp(c.title) }).first().click();
    await applicant.waitForURL(new RegExp(`/console/cases/${c.id}$`));
    const decision = applicant.getByTestId("case-decision");
    await decision.getByText(reason).waitFor();
    assert.match(await decision.innerText(), /不予批准|不予共享/);
    await shot(applicant, "18-share-request-refused-applicant");
    noErrors(applicant);
    await applicant.context().close();
  });
});

describe("demand list", () => {
  test("an org posts a need and the authority matches it to an entry", async () => {
    const water = await apiSession(env.url, "water.steward");
    const d = await water("/api/v1/catalog/resources", {
      name: "城市供水管网压力监测",
      data_class: "public_service",
      themes: ["living"],
      frequency: "realtime",
      formats: ["json"],
      level: "general",
      share: { attr: "unconditional" },
      open: { attr: "unconditional" },
      delivery: { mode: "hosted" },
      fields: [{ name: "station", label: "监测点", type: "string", level: "general" }, { name: "pressure_mpa", label: "压力", type: "decimal", level: "general" }],
    });
    await water(`/api/v1/catalog/resources/${d.resource_id}/publish`, { reason: "编目发布" });
    const need = "供水压力异常预警数据";

    const page = await newPage(env);
    await login(page, env.url, "yjj.steward");
    await page.goto(`${env.url}/console/demands`);
    await page.getByTestId("demand-new").click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("需求", { exact: true }).fill(need);
    await dialog.getByLabel("描述").fill("汛期需要掌握全市供水管网压力，及早发现爆管风险。");
    await dialog.getByLabel("应用场景").fill("城市生命线安全监测");
    await dialog.getByLabel("所需数据项").fill("管网压力");
    await dialog.getByLabel("所需数据项").press("Enter");
    await dialog.getByRole("button", { name: "发布", exact: true }).click();
    const row = page.getByTestId("demands-table").locator("tr", { hasText: need });
    await onFailure(page, "demand-post", () => row.getByText("待对接").waitFor());
    noErrors(page);
    await page.context().close();

    const admin = await newPage(env);
    await login(admin, env.url, "admin");
    await admin.goto(`${env.url}/console/demands`);
    const arow = admin.getByTestId("demands-table").locator("tr", { hasText: need });
    await arow.getByRole("button", { name: "对接目录" }).click();
    await admin.getByRole("dialog").locator(".ant-select").click();
    await admin.keyboard.type("管网压力");
    await admin.locator(".ant-select-item-option", { hasText: "城市供水管网压力监测" }).click();
    await admin.getByRole("dialog").getByLabel("说明").fill("已有实时监测目录，可直接获取");
    await admin.getByRole("dialog").getByRole("button", { name: "对接目录" }).click();
    await onFailure(admin, "demand-match", () => arow.getByText("已对接").waitFor());
    assert.equal(await arow.getByRole("link", { name: "对接的目录" }).getAttribute("href"), `/catalog/${d.resource_id}`);
    await admin.locator(".ant-modal-wrap").waitFor({ state: "hidden" });
    await shot(admin, "21-demand-matched");
    noErrors(admin);
    await admin.context().close();
  });
});

describe("sharing grants", () => {
  test("the authority suspends an approved grant", async () => {
    const scenario = "营运驾驶员资格年审";
    await approvedShare(env.url, {
      entry: {
        name: "机动车驾驶人记分信息",
        themes: ["transport"],
        open: { attr: "none", basis: "《道路交通安全法实施条例》", reason: "含个人信息" },
        fields: [
          { name: "licence_no", label: "驾驶证号", type: "string", level: "important", personal: true },
          { name: "points", label: "记分", type: "integer", level: "general" },
        ],
      },
      scenario,
      legalDuty: "《道路运输从业人员管理规定》",
      fields: ["licence_no", "points"],
    });

    const page = await newPage(env);
    await login(page, env.url, "admin");
    await page.goto(`${env.url}/console/grants`);
    const row = page.locator("tr", { hasText: scenario });
    await onFailure(page, "grants", () => row.getByText("有效").waitFor());
    await row.locator(".ant-table-row-expand-icon").click();
    await page.getByText(/调用次数/).first().waitFor();
    await shot(page, "19-grants-usage");
    await row.getByRole("button", { name: "暂停" }).click();
    await page.getByLabel(/理由/).fill("发现超范围调用，暂停待核查");
    await page.getByRole("dialog").getByRole("button", { name: "暂停" }).click();
    await row.getByText("已暂停").waitFor();
    await row.getByText("发现超范围调用，暂停待核查").waitFor();
    noErrors(page);
    await page.context().close();

    // The consumer sees its grant suspended, with the reason.
    const mine = await (await apiSession(env.url, "jtj.steward"))("/api/v1/share/grants?view=consumer");
    const g = mine.items.find((x) => x.purpose === scenario);
    assert.equal(g?.state, "suspended");
  });
});

describe("authority console", () => {
  test("the authority sees an overdue case", async () => {
    const page = await newPage(env);
    await login(page, env.url, "admin");
    await page.waitForURL(/\/authority\/cases$/);
    const overdue = page.getByTestId("overdue-table");
    await overdue.getByText("市公安局目录整改（逾期）").waitFor();
    assert.ok(await overdue.getByTestId("overdue-tag").first().isVisible());
    // The case within its deadline is listed apart, not as overdue.
    await page.getByTestId("cases-table").getByText("市自来水有限公司目录整改").waitFor();
    assert.equal(await overdue.getByText("市自来水有限公司目录整改").count(), 0);
    await shot(page, "13-authority-cases");
    await page.getByRole("menuitem", { name: "逾期办件" }).click();
    await page.waitForURL(/\/authority\/overdue$/);
    await page.getByTestId("overdue-table").getByText("市公安局目录整改（逾期）").click();
    await page.getByTestId("case-title").waitFor();
    await page.getByText("本办件已超过办理期限").waitFor();
    await page.getByText("市人民政府督办").first().waitFor();
    await shot(page, "14-authority-case");
    noErrors(page);
    await page.context().close();
  });

  test("the authority verifies a ledger entry's inclusion proof in the browser", async () => {
    const page = await newPage(env);
    await login(page, env.url, "admin");
    await page.goto(env.url + "/authority/ledger");
    await onFailure(page, "ledger", () => page.getByTestId("ledger-table").waitFor());
    await page.getByTestId("tree-size").waitFor();
    const first = page.getByTestId("ledger-table").getByRole("button", { name: /^验证第 \d+ 条记录$/ }).first();
    await first.click();
    const result = page.getByTestId("verify-result");
    await result.waitFor();
    assert.match(await result.innerText(), /验证通过/);
    await page.waitForTimeout(500); // the drawer's slide-in
    await shot(page, "15-authority-ledger-verify", { fullPage: false });
    noErrors(page);
    await page.context().close();
  });

  test("the authority finds every event about a file by its content hash", async () => {
    const call = await apiSession(env.url, "admin");
    const all = await call("/api/v1/ledger/events?limit=500");
    const withHash = all.items.find((e) => e.content_hash);
    assert.ok(withHash, "no ledger event with a content hash in the demo data");
    const same = await call(`/api/v1/ledger/events?content_hash=${withHash.content_hash}&limit=25`);
    assert.ok(same.items.every((e) => e.content_hash === withHash.content_hash));
    const page = await newPage(env);
    await login(page, env.url, "admin");
    await page.goto(env.url + "/authority/ledger");
    await onFailure(page, "ledger-content-hash", async () => {
      await page.getByTestId("ledger-table").waitFor();
      // Pasted as sha256sum prints it, or in capitals: either finds it.
      await page.getByLabel("内容哈希").fill(withHash.content_hash.toUpperCase());
      await page.getByTestId("ledger-search").click();
      await page.locator(`[data-testid="ledger-table"] tr[data-row-key="${withHash.seq}"]`).waitFor();
      await page.waitForFunction(
        (n) => document.querySelectorAll('[data-testid="ledger-table"] tbody tr.ant-table-row').length === n,
        same.items.length,
      );
    });
    noErrors(page);
    await page.context().close();
  });
});
