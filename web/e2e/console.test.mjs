// Browser tests of the org and authority consoles' remaining parts (issue
// #9): loads and quality, scorecards, case attachments, complaints and
// misuse reports, in Debian's Chromium against the real seeded server.
// Screenshots land in web/test-results/console-*.png.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { PASSWORD, apiSession, approvedShare, login, newPage, onFailure, shot, start } from "./harness.mjs";

let env;
before(async () => {
  env = await start();
});
after(async () => {
  await env?.stop();
});

const noErrors = (page) => assert.deepEqual(page.errors, [], "page errors or CSP violations");

/** rawPost signs in and sends a body of any type (apiSession sends JSON only). */
async function rawPost(username, path, contentType, body) {
  const r = await fetch(`${env.url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  const cookie = r.headers.get("set-cookie").split(";")[0];
  const { csrf_token } = await r.json();
  const res = await fetch(env.url + path, { method: "POST", headers: { Cookie: cookie, "X-CSRF-Token": csrf_token, "Content-Type": contentType }, body });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

describe("org console: loads and quality", () => {
  let entry, load;
  before(async () => {
    // A bus company steward catalogs a hosted entry, makes its dataset and
    // loads a CSV with one bad row and a column of mobile numbers that is
    // not marked personal.
    const st = await apiSession(env.url, "gaj.steward");
    const d = await st("/api/v1/catalog/resources", {
      name: "便民服务站点信息",
      description: "全市派出所便民服务站点及其联系电话。",
      data_class: "government",
      themes: ["public_security"],
      frequency: "daily",
      formats: ["csv"],
      level: "general",
      share: { attr: "unconditional" },
      open: { attr: "none", basis: "《公共数据管理办法》", reason: "内部服务信息" },
      delivery: { mode: "hosted" },
      fields: [
        { name: "site_no", label: "站点编号", type: "string", level: "general", required: true },
        { name: "site_name", label: "站点名称", type: "string", level: "general" },
        { name: "phone", label: "值班电话", type: "string", level: "general" },
        { name: "windows", label: "窗口数", type: "integer", level: "general" },
      ],
    });
    entry = (await st(`/api/v1/catalog/resources/${d.resource_id}/publish`, { reason: "首次发布" })).resource;
    await st("/api/v1/ingest/datasets", { resource: entry.id, key: ["site_no"] });
    let csv = "站点编号,站点名称,值班电话,窗口数\n";
    for (let i = 0; i < 12; i++) csv += `S${String(i).padStart(3, "0")},便民站${i},1390592${String(1000 + i)},${1 + (i % 4)}\n`;
    csv += "S999,坏行,13905920000,三个\n";
    load = await rawPost("gaj.steward", `/api/v1/ingest/datasets/${entry.id}/loads?mode=replace&source=sites.csv`, "text/csv", csv);
    assert.equal(load.status, "applied");
    assert.equal(load.rows_rejected, 1);
  });

  test("a steward sees the org's loads, a load's errors, quality and PII hints", async () => {
    const page = await newPage(env);
    await login(page, env.url, "gaj.steward");
    await page.goto(env.url + "/console/catalog");
    await page.getByRole("menuitem", { name: "归集与质量" }).click();
    await page.waitForURL(/\/console\/loads/);
    const table = page.getByTestId("datasets-table");
    const row = table.locator("tr", { hasText: entry.code });
    await onFailure(page, "console-loads", () => row.waitFor());
    await row.getByText("便民服务站点信息").waitFor();
    await row.locator(".ant-table-row-expand-icon").click();
    const loads = page.getByTestId(`loads-${entry.code}`);
    await loads.getByText("已生效").waitFor();
    await shot(page, "console-01-loads");

    // The load's details: counts, its quality and its error report.
    await loads.getByRole("button", { name: `第 ${load.seq} 批次` }).click();
    const drawer = page.getByRole("dialog");
    await drawer.getByText("错误报告（1 条）").waitFor();
    const errs = page.getByTestId("load-errors");
    await errs.getByText("三个", { exact: true }).waitFor();
    assert.match(await errs.innerText(), /windows/);
    // The CSV download the server offers, with the session's cookie.
    const href = await page.getByTestId("errors-csv").getAttribute("href");
    const res = await page.request.get(env.url + href);
    assert.equal(res.status(), 200);
    assert.match(res.headers()["content-type"], /text\/csv/);
    assert.match(await res.text(), /行号 row[\s\S]*三个/);
    await page.waitForTimeout(400);
    await shot(page, "console-02-load-errors", { fullPage: false });
    await page.keyboard.press("Escape");

    // Quality over time, as a chart.
    await page.getByRole("tab", { name: "质量评分" }).click();
    await page.getByTestId("quality-latest").waitFor();
    await page.getByTestId("quality-chart").locator("canvas").waitFor();
    await shot(page, "console-03-quality");

    // The phone column looks like personal data: the steward dismisses it with a reason.
    await page.getByRole("tab", { name: "个人信息提示" }).click();
    const pii = page.getByTestId("pii-table");
    await pii.getByText("手机号码").first().waitFor();
    await shot(page, "console-04-pii");
    await page.getByTestId("pii-dismiss-phone").click();
    await page.locator("#pii-note").fill("值班电话为单位公开电话，不属于个人信息");
    await page.locator("#pii-confirm").click();
    await page.getByText("没有需要处理的提示").waitFor();
    noErrors(page);
    await page.context().close();
  });
});

describe("authority console: scorecards", () => {
  test("the authority sees the org scorecards and opens one", async () => {
    const page = await newPage(env);
    await login(page, env.url, "admin");
    await page.getByRole("menuitem", { name: "单位评估" }).click();
    await page.waitForURL(/\/authority\/scorecards/);
    const table = page.getByTestId("scorecards-table");
    await onFailure(page, "console-scorecards", () => table.locator("tbody tr.ant-table-row").first().waitFor());
    await page.getByTestId("scorecards-chart").locator("canvas").waitFor();
    // Every department and public service org has a card.
    const orgs = await (await apiSession(env.url, "admin"))("/api/v1/scorecards");
    assert.ok(orgs.items.length >= 5, `${orgs.items.length} cards`);
    assert.equal(await table.locator("tbody tr.ant-table-row").count(), Math.min(20, orgs.items.length));
    await shot(page, "console-05-scorecards");
    // Another measure, then one org's card.
    await page.getByTestId("measure-switch").getByText("目录完整性").click();
    await page.waitForURL(/measure=completeness/);
    // Worst first; sorted best first, the public security bureau (an
    // overdue order, but loads and a catalog) is on the first page.
    const overall = table.locator("th", { hasText: "综合" });
    await overall.click();
    await overall.click();
    const gaj = orgs.items.find((c) => c.org_name === "市公安局");
    await page.getByTestId(`card-${gaj.org_id}`).click();
    const card = page.getByTestId("scorecard");
    await card.getByText("已发布条目").waitFor();
    // The overdue rectification order the seed made counts against it.
    assert.ok(gaj.cases.overdue >= 1, JSON.stringify(gaj.cases));
    await card.getByText(`逾期 ${gaj.cases.overdue}`).first().waitFor();
    await page.waitForTimeout(400);
    await shot(page, "console-06-scorecard", { fullPage: false });
    noErrors(page);
    await page.context().close();
  });

  test("an org's steward sees only its own scorecard", async () => {
    const page = await newPage(env);
    await login(page, env.url, "water.steward");
    await page.goto(env.url + "/console/catalog");
    await page.getByRole("menuitem", { name: "本单位评估" }).click();
    await page.getByTestId("scorecard").waitFor();
    assert.equal(await page.getByTestId("scorecards-table").count(), 0);
    await shot(page, "console-07-own-scorecard");
    noErrors(page);
    await page.context().close();
  });
});

describe("forms", () => {
  test("a complaint is filed from the portal footer", async () => {
    const page = await newPage(env);
    await login(page, env.url, "mzj.steward");
    await page.goto(env.url + "/");
    await page.getByTestId("footer-complaints").click();
    await page.waitForURL(/\/complaints$/);
    await page.getByRole("heading", { name: "投诉举报" }).waitFor();
    await page.getByLabel("标题").fill("某单位超范围收集居民信息");
    await page.getByLabel("类别").click();
    await page.locator(".ant-select-item-option", { hasText: "个人信息" }).first().click();
    await page.getByLabel("具体情况").fill("社区办事时被要求提供与业务无关的家庭成员身份证号。");
    await shot(page, "console-08-complaint-form");
    await page.getByTestId("complaint-submit").click();
    await onFailure(page, "console-complaint", () => page.getByTestId("complaint-filed").waitFor());
    await page.getByRole("button", { name: "查看办件" }).click();
    assert.equal(await page.getByTestId("case-title").innerText(), "某单位超范围收集居民信息");
    await page.getByText("投诉举报").first().waitFor();
    await shot(page, "console-09-complaint-case");
    noErrors(page);
    await page.context().close();
  });

  test("a case attachment is uploaded with progress and listed; a too-large one is refused clearly", async () => {
    const me = await apiSession(env.url, "mzj.steward");
    const c = await me("/api/v1/cases", {
      kind: "complaint",
      title: "附件测试投诉",
      target: {},
      payload: { category: "data_security", description: "数据泄露线索，附截图。" },
    });
    const page = await newPage(env);
    await login(page, env.url, "mzj.steward");
    await page.goto(`${env.url}/console/cases/${c.id}`);
    await page.getByTestId("case-title").waitFor();
    await page.getByText("暂无附件").or(page.getByText(/附件/)).first().waitFor();
    await page.getByTestId("attach-input").setInputFiles({ name: "线索截图.txt", mimeType: "text/plain", buffer: Buffer.from("可疑的数据导出记录\n".repeat(200)) });
    const list = page.getByTestId("attachments");
    await onFailure(page, "console-attach", () => list.getByText("线索截图.txt").first().waitFor());
    // It downloads with the same bytes.
    const href = await list.getByRole("link", { name: "线索截图.txt", exact: true }).getAttribute("href");
    const got = await page.request.get(env.url + href);
    assert.equal(got.status(), 200);
    assert.match(await got.text(), /可疑的数据导出记录/);
    // A file over the limit is refused before it is sent, with a clear message.
    await page.getByTestId("attach-input").setInputFiles({ name: "录像.bin", mimeType: "application/octet-stream", buffer: Buffer.alloc(11 << 20) });
    const err = page.getByTestId("attach-error");
    await err.waitFor();
    assert.match(await err.innerText(), /录像\.bin.*超过了 10 MiB 的上限/);
    const listed = await me(`/api/v1/cases/${c.id}/attachments`);
    assert.deepEqual(
      listed.items.map((a) => a.name),
      ["线索截图.txt"],
    );
    await shot(page, "console-10-attachments");
    noErrors(page);
    await page.context().close();
  });

  test("a providing org files a misuse report from a grant", async () => {
    const scenario = "出行服务进度提醒";
    const { provider } = await approvedShare(env.url, {
      entry: {
        name: "出入境证件办理进度",
        themes: ["public_security"],
        open: { attr: "none", basis: "《出境入境管理法》", reason: "含个人信息" },
        fields: [
          { name: "case_no", label: "受理编号", type: "string", level: "general" },
          { name: "progress", label: "办理进度", type: "string", level: "general" },
        ],
      },
      scenario,
      legalDuty: "《优化营商环境条例》",
      fields: ["case_no", "progress"],
    });
    const grants = await provider("/api/v1/share/grants?view=provider");
    const g = grants.items.find((x) => x.purpose === scenario);
    assert.ok(g, "the grant");

    const page = await newPage(env);
    await login(page, env.url, "gaj.steward");
    await page.goto(`${env.url}/console/grants?view=provider`);
    await onFailure(page, "console-misuse", () => page.getByTestId(`misuse-${g.id}`).click());
    const dialog = page.getByRole("dialog");
    await dialog.getByText("报告违规使用，申请暂停或终止数据服务").waitFor();
    await dialog.getByText("终止", { exact: true }).click();
    await page.getByTestId("misuse-reason").fill("发现其将进度数据用于商业推送，超出申请场景");
    await page.getByTestId("misuse-evidence").fill("账本记录 provide 事件若干");
    await shot(page, "console-11-misuse-form", { fullPage: false });
    await page.locator("#misuse-submit").click();
    await page.waitForURL(/\/console\/cases\//);
    await page.getByTestId("case-title").waitFor();
    assert.match(await page.getByTestId("case-title").innerText(), /暂停或终止数据服务/);
    await page.getByText("发现其将进度数据用于商业推送，超出申请场景").first().waitFor();
    await shot(page, "console-12-misuse-case");
    // The consumer's steward disputes the sharing attribute from its grant (R-SHR-6).
    const cpage = await newPage(env);
    await login(cpage, env.url, "jtj.steward");
    await cpage.goto(`${env.url}/console/grants?view=consumer`);
    await cpage.getByTestId(`dispute-${g.id}`).click();
    await cpage.getByRole("dialog").getByText("无条件共享").click();
    await cpage.getByTestId("dispute-reason").fill("进度信息不含敏感内容，应无条件共享以便群众查询");
    await cpage.locator("#dispute-submit").click();
    await cpage.waitForURL(/\/console\/cases\//);
    assert.match(await cpage.getByTestId("case-title").innerText(), /共享属性争议/);
    await shot(cpage, "console-13-dispute-case");
    noErrors(page);
    noErrors(cpage);
    await page.context().close();
    await cpage.context().close();
  });
});
