// /authority/open — the authority's open-data console: the demand ranking and
// open-priority list (R-OPN-5), conditional entries due for periodic review
// (R-OPN-3), the re-identification risk scan (R-OPN-6), openings of not-open
// data (R-OPN-4), and the open cases (applications, reviews, risk, conversions).
import { Alert, App, Button, Card, Descriptions, Form, Input, Segmented, Select, Space, Table, Tabs, Tag, Typography } from "antd";
import { useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { api, type Case, type Page } from "../api";
import { type OpenDemand, type OpenEvidence, type OpenListing, type OpenOpening, type OpenRiskScan } from "../api/open";
import { useEnum, useLang } from "../i18n";
import { useAsync } from "../lib/useAsync";
import { useOrgNames } from "../lib/shared";
import { fmtDate, fmtTime } from "../lib/format";
import { Async, ErrorState } from "../components/Async";
import { Chart } from "../components/Chart";
import { CursorPager, useCursor } from "../components/CursorPager";
import { Deadline } from "../components/Deadline";

const pct = (x?: number) => (x === undefined ? "—" : `${(x * 100).toFixed(1)}%`);

/** useOpenNames maps open entries' ids to names (the open catalog is public and small). */
function useOpenNames() {
  const s = useAsync((signal) => api<{ items: OpenListing[] }>("/api/v1/open/catalog", { query: { format: "json" }, signal }), []);
  return useMemo(() => new Map((s.data?.items ?? []).map((l) => [l.id, l])), [s.data]);
}

function DemandPanel() {
  const { t } = useLang();
  const label = useEnum();
  const [days, setDays] = useState(365);
  const [list, setList] = useState<"ranking" | "priority">("ranking");
  const state = useAsync(
    (signal) => api<{ items: OpenDemand[] }>("/api/v1/open/demand", { query: { days, not_open: list === "priority" ? "1" : undefined, limit: 200 }, signal }),
    [days, list],
  );
  const option = useMemo(() => {
    const top = (state.data?.items ?? []).slice(0, 15).reverse();
    const name = (d: OpenDemand) => (d.resource_name.length > 16 ? d.resource_name.slice(0, 16) + "…" : d.resource_name);
    return {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0 },
      grid: { left: 8, right: 24, top: 32, bottom: 8, containLabel: true },
      xAxis: { type: "value" },
      yAxis: { type: "category", data: top.map(name) },
      series: [
        { type: "bar", stack: "s", name: t("openAuth.downloads"), data: top.map((d) => d.downloads), itemStyle: { color: "#1458d6" } },
        { type: "bar", stack: "s", name: t("openAuth.applicationsW"), data: top.map((d) => 5 * d.applications), itemStyle: { color: "#faad14" } },
        { type: "bar", stack: "s", name: t("openAuth.requestsW"), data: top.map((d) => 10 * d.requests), itemStyle: { color: "#cf1322" } },
      ],
    };
  }, [state.data, t]);
  return (
    <>
      <Space wrap style={{ marginBottom: 12 }}>
        <Segmented
          value={list}
          onChange={(v) => setList(v as "ranking" | "priority")}
          options={[
            { value: "ranking", label: t("openAuth.ranking") },
            { value: "priority", label: t("openAuth.priority") },
          ]}
          aria-label={t("openAuth.whichList")}
          data-testid="demand-list"
        />
        <label htmlFor="demand-days">{t("openAuth.period")}</label>
        <Select
          id="demand-days"
          value={days}
          onChange={setDays}
          style={{ width: 140 }}
          options={[30, 90, 365, 1095].map((d) => ({ value: d, label: t("openAuth.lastDays", { n: d }) }))}
        />
      </Space>
      <Typography.Paragraph type="secondary">{list === "priority" ? t("openAuth.priorityHelp") : t("openAuth.rankingHelp")}</Typography.Paragraph>
      <Async state={state} isEmpty={(d) => d.items.length === 0} empty={<Alert type="info" showIcon title={t("openAuth.noDemand")} />}>
        {(d) => (
          <>
            <Chart option={option} height={Math.max(220, Math.min(15, d.items.length) * 30 + 60)} label={t("openAuth.chartLabel")} />
            <Table<OpenDemand>
              rowKey="resource_id"
              size="small"
              dataSource={d.items}
              data-testid="demand-table"
              scroll={{ x: 820 }}
              pagination={{ pageSize: 20, showSizeChanger: false, hideOnSinglePage: true }}
              columns={[
                { title: "#", key: "rank", width: 50, render: (_, __, i) => i + 1 },
                { title: t("openAuth.resource"), key: "name", render: (_, x) => <Link to={`/catalog/${x.resource_id}`}>{x.resource_name}</Link> },
                { title: t("openAuth.org"), dataIndex: "org_name", key: "org", width: 180 },
                {
                  title: t("openAuth.attr"),
                  key: "open",
                  width: 110,
                  render: (_, x) => <Tag color={x.open === "unconditional" ? "blue" : x.open === "conditional" ? "gold" : "default"}>{label("open", x.open)}</Tag>,
                },
                { title: t("openAuth.downloads"), dataIndex: "downloads", key: "dl", width: 80 },
                { title: t("openAuth.previews"), key: "pv", width: 80, render: (_, x) => x.previews ?? 0 },
                { title: t("openAuth.applications"), dataIndex: "applications", key: "app", width: 80 },
                { title: t("openAuth.requests"), dataIndex: "requests", key: "req", width: 80 },
                { title: t("openAuth.score"), dataIndex: "score", key: "score", width: 80, render: (v: number) => <strong>{v}</strong> },
              ]}
            />
          </>
        )}
      </Async>
    </>
  );
}

function ReviewsPanel() {
  const { t } = useLang();
  const { message } = App.useApp();
  const orgName = useOrgNames(false);
  const state = useAsync((signal) => api<{ items: OpenEvidence[] }>("/api/v1/open/reviews/due", { signal }), []);
  const [busy, setBusy] = useState(false);
  const [filed, setFiled] = useState<string[]>();
  const [error, setError] = useState<Error>();
  const run = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const r = await api<{ cases: string[] }>("/api/v1/open/reviews/run", { method: "POST" });
      setFiled(r.cases);
      message.success(t("openAuth.reviewsFiled", { n: r.cases.length }));
      state.reload();
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <>
      <Typography.Paragraph>{t("openAuth.reviewsIntro")}</Typography.Paragraph>
      <Space style={{ marginBottom: 12 }} wrap>
        <Button type="primary" onClick={run} loading={busy} data-testid="reviews-run">
          {t("openAuth.reviewsRun")}
        </Button>
      </Space>
      {error && <ErrorState error={error} />}
      {filed && (
        <Alert
          type="success"
          showIcon
          style={{ marginBottom: 12 }}
          title={t("openAuth.reviewsFiled", { n: filed.length })}
          description={
            filed.length > 0 && (
              <Space wrap>
                {filed.map((id) => (
                  <Link key={id} to={`/console/cases/${id}`} className="mono">
                    {id.slice(0, 8)}
                  </Link>
                ))}
              </Space>
            )
          }
        />
      )}
      <Async state={state} isEmpty={(d) => d.items.length === 0} empty={<Alert type="info" showIcon title={t("openAuth.noneDue")} />}>
        {(d) => (
          <Table<OpenEvidence>
            rowKey="resource_id"
            size="small"
            dataSource={d.items}
            data-testid="reviews-table"
            scroll={{ x: 900 }}
            pagination={{ pageSize: 20, showSizeChanger: false, hideOnSinglePage: true }}
            columns={[
              { title: t("openAuth.resource"), key: "name", render: (_, x) => <Link to={`/catalog/${x.resource_id}`}>{x.resource_name}</Link> },
              { title: t("openAuth.org"), key: "org", width: 180, render: (_, x) => orgName(x.org_id) },
              { title: t("openAuth.since"), key: "since", width: 110, render: (_, x) => fmtDate(x.since) },
              { title: t("openAuth.lastReview"), key: "last", width: 110, render: (_, x) => fmtDate(x.last_review) },
              { title: t("openAuth.downloads"), dataIndex: "downloads", key: "dl", width: 80 },
              { title: t("openAuth.applications"), dataIndex: "applications", key: "app", width: 80 },
              { title: t("openAuth.requests"), dataIndex: "requests", key: "req", width: 80 },
              {
                title: t("openAuth.risk"),
                key: "risk",
                width: 140,
                render: (_, x) =>
                  x.risk ? (
                    <Tag color={x.risk.flagged ? "red" : "green"}>
                      {x.risk.flagged ? t("openAuth.flagged") : t("openAuth.ok")} · {pct(x.risk.report?.prosecutor_at_risk)}
                    </Tag>
                  ) : (
                    t("openAuth.notScanned")
                  ),
              },
            ]}
          />
        )}
      </Async>
    </>
  );
}

function RiskReportView({ s }: { s: OpenRiskScan }) {
  const { t } = useLang();
  const r = s.report;
  return (
    <Descriptions size="small" bordered column={{ xs: 1, md: 2 }}>
      <Descriptions.Item label={t("openAuth.scannedAt")}>{fmtTime(s.at)}</Descriptions.Item>
      <Descriptions.Item label={t("openAuth.verdict")}>
        <Tag color={s.flagged ? "red" : "green"}>{s.flagged ? t("openAuth.flagged") : t("openAuth.ok")}</Tag>
        {s.case_id && <Link to={`/console/cases/${s.case_id}`}>{t("openAuth.riskCase")}</Link>}
      </Descriptions.Item>
      <Descriptions.Item label={t("openAuth.qis")}>{r?.qis?.join("、") || "—"}</Descriptions.Item>
      <Descriptions.Item label={t("openAuth.records")}>{r?.records ?? "—"}</Descriptions.Item>
      <Descriptions.Item label={t("openAuth.minClass")}>{r?.min_class ?? "—"}</Descriptions.Item>
      <Descriptions.Item label={t("openAuth.uniqueShare")}>{pct(r?.unique_share)}</Descriptions.Item>
      <Descriptions.Item label={t("openAuth.atRisk")}>{pct(r?.prosecutor_at_risk)}</Descriptions.Item>
      <Descriptions.Item label={t("openAuth.maxRisk")}>{pct(r?.prosecutor_max)}</Descriptions.Item>
    </Descriptions>
  );
}

function RiskPanel({ names }: { names: Map<string, OpenListing> }) {
  const { t } = useLang();
  const [busy, setBusy] = useState(false);
  const [scans, setScans] = useState<OpenRiskScan[]>();
  const [error, setError] = useState<Error>();
  const [lookup, setLookup] = useState<string>();
  const latest = useAsync((signal) => (lookup ? api<OpenRiskScan>(`/api/v1/open/risk/${encodeURIComponent(lookup)}`, { signal }) : Promise.resolve(undefined)), [lookup]);
  const scan = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const r = await api<{ items: OpenRiskScan[] }>("/api/v1/open/risk/scan", { method: "POST" });
      setScans([...r.items].sort((a, b) => Number(b.flagged) - Number(a.flagged)));
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };
  const nameOf = (id: string) => names.get(id)?.name ?? id.slice(0, 8) + "…";
  return (
    <>
      <Typography.Paragraph>{t("openAuth.riskIntro")}</Typography.Paragraph>
      <Button type="primary" onClick={scan} loading={busy} style={{ marginBottom: 12 }} data-testid="risk-scan">
        {t("openAuth.riskScan")}
      </Button>
      {error && <ErrorState error={error} />}
      {scans && (
        <Table<OpenRiskScan>
          rowKey="id"
          size="small"
          dataSource={scans}
          data-testid="risk-table"
          scroll={{ x: 760 }}
          locale={{ emptyText: t("openAuth.noScans") }}
          pagination={{ pageSize: 20, showSizeChanger: false, hideOnSinglePage: true }}
          columns={[
            { title: t("openAuth.resource"), key: "name", render: (_, s) => <Link to={`/catalog/${s.resource_id}`}>{nameOf(s.resource_id)}</Link> },
            { title: t("openAuth.records"), key: "rec", width: 90, render: (_, s) => s.report?.records ?? "—" },
            { title: t("openAuth.minClass"), key: "k", width: 90, render: (_, s) => s.report?.min_class ?? "—" },
            { title: t("openAuth.atRisk"), key: "risk", width: 110, render: (_, s) => pct(s.report?.prosecutor_at_risk) },
            {
              title: t("openAuth.verdict"),
              key: "flag",
              width: 200,
              render: (_, s) => (
                <Space size={4}>
                  <Tag color={s.flagged ? "red" : "green"}>{s.flagged ? t("openAuth.flagged") : t("openAuth.ok")}</Tag>
                  {s.case_id && <Link to={`/console/cases/${s.case_id}`}>{t("openAuth.riskCase")}</Link>}
                </Space>
              ),
            },
          ]}
        />
      )}
      <Card size="small" title={<h3 className="card-h">{t("openAuth.riskLookup")}</h3>} style={{ marginTop: 16 }}>
        <Form layout="inline" style={{ rowGap: 8, marginBottom: 12 }}>
          <Form.Item label={t("openAuth.resource")} htmlFor="risk-resource">
            <Select
              id="risk-resource"
              showSearch
              optionFilterProp="label"
              style={{ minWidth: 280, maxWidth: "100%" }}
              value={lookup}
              onChange={setLookup}
              options={[...names.values()].map((l) => ({ value: l.id, label: `${l.name} · ${l.org}` }))}
            />
          </Form.Item>
        </Form>
        {lookup && (
          <Async state={latest} rows={2}>
            {(s) => (s ? <RiskReportView s={s} /> : null)}
          </Async>
        )}
      </Card>
    </>
  );
}

function OpeningsPanel({ names }: { names: Map<string, OpenListing> }) {
  const { t } = useLang();
  const [id, setId] = useState("");
  const [resource, setResource] = useState<string>();
  const state = useAsync(
    (signal) => (resource ? api<{ items: OpenOpening[] }>("/api/v1/open/openings", { query: { resource }, signal }) : Promise.resolve({ items: [] })),
    [resource],
  );
  return (
    <>
      <Typography.Paragraph>{t("openAuth.openingsIntro")}</Typography.Paragraph>
      <Form layout="inline" style={{ rowGap: 8, marginBottom: 12 }} onFinish={() => setResource(id.trim() || undefined)}>
        <Form.Item label={t("openAuth.resourceId")} htmlFor="openings-resource">
          <Select
            id="openings-resource"
            showSearch
            optionFilterProp="label"
            style={{ minWidth: 280, maxWidth: "100%" }}
            value={resource}
            onChange={(v) => {
              setResource(v);
              setId(v);
            }}
            options={[...names.values()].map((l) => ({ value: l.id, label: `${l.name} · ${l.org}` }))}
          />
        </Form.Item>
        <Form.Item label={t("openAuth.orId")} htmlFor="openings-id">
          <Input id="openings-id" value={id} onChange={(e) => setId(e.target.value)} style={{ width: 260 }} />
        </Form.Item>
        <Button htmlType="submit">{t("openAuth.show")}</Button>
      </Form>
      {resource && (
        <Async state={state} isEmpty={(d) => d.items.length === 0} empty={<Alert type="info" showIcon title={t("openAuth.noOpenings")} />}>
          {(d) => (
            <Table<OpenOpening>
              rowKey="case_id"
              size="small"
              dataSource={d.items}
              pagination={false}
              scroll={{ x: 640 }}
              columns={[
                { title: t("openAuth.approvedAt"), key: "at", render: (_, o) => fmtTime(o.approved_at) },
                { title: t("openAuth.path"), key: "path", render: (_, o) => t(`openAuth.path.${o.path}`) },
                { title: t("openAuth.attr"), key: "attr", render: (_, o) => <Tag>{t(`open.${o.attr}`)}</Tag> },
                { title: t("openAuth.derivation"), key: "der", render: (_, o) => <span className="mono">{o.derivation_id || "—"}</span> },
                { title: t("openAuth.case"), key: "case", render: (_, o) => <Link to={`/console/cases/${o.case_id}`}>{o.case_id.slice(0, 8)}</Link> },
              ]}
            />
          )}
        </Async>
      )}
    </>
  );
}

const CASE_KINDS = ["open_application", "open_review", "open_risk", "open_conversion"];

function OpenCasesPanel() {
  const { t, lang } = useLang();
  const label = useEnum();
  const orgName = useOrgNames(lang === "en");
  const [kind, setKind] = useState("open_application");
  const cur = useCursor();
  const state = useAsync((signal) => api<Page<Case>>("/api/v1/cases", { query: { kind, limit: 20, cursor: cur.cursor }, signal }), [kind, cur.cursor]);
  return (
    <>
      <Segmented
        value={kind}
        onChange={(v) => {
          setKind(v as string);
          cur.reset();
        }}
        options={CASE_KINDS.map((k) => ({ value: k, label: t(`openAuth.kind.${k}`) }))}
        aria-label={t("openAuth.caseKind")}
        style={{ marginBottom: 12, maxWidth: "100%", overflowX: "auto" }}
      />
      <Async state={state} isEmpty={(d) => d.items.length === 0} empty={<Alert type="info" showIcon title={t("case.none")} />}>
        {(d) => (
          <>
            <Table<Case>
              rowKey="id"
              size="small"
              dataSource={d.items}
              pagination={false}
              data-testid="open-cases-table"
              scroll={{ x: 760 }}
              columns={[
                { title: t("case.title"), key: "title", render: (_, c) => <Link to={`/console/cases/${c.id}`}>{c.title || c.id}</Link> },
                { title: t("case.applicant"), key: "app", width: 180, render: (_, c) => orgName(c.applicant.org_id) },
                { title: t("case.state"), key: "state", width: 200, render: (_, c) => <Tag>{label("state", c.state)}</Tag> },
                { title: t("case.deadline"), key: "dl", width: 120, render: (_, c) => <Deadline c={c} /> },
                { title: t("case.filed"), key: "filed", width: 150, render: (_, c) => fmtTime(c.created_at) },
              ]}
            />
            <CursorPager cur={cur} next={d.next_cursor} />
          </>
        )}
      </Async>
    </>
  );
}

export function OpenAuthority() {
  const { t } = useLang();
  const names = useOpenNames();
  const [params, setParams] = useSearchParams();
  const tab = params.get("tab") ?? "demand";
  return (
    <>
      <div className="page-title">
        <h1>{t("openAuth.title")}</h1>
        <Link to="/open">{t("openAuth.portalLink")}</Link>
      </div>
      <Card>
        <Tabs
          activeKey={tab}
          onChange={(k) => setParams({ tab: k }, { replace: true })}
          items={[
            { key: "demand", label: t("openAuth.tabDemand"), children: <DemandPanel /> },
            { key: "reviews", label: t("openAuth.tabReviews"), children: <ReviewsPanel /> },
            { key: "risk", label: t("openAuth.tabRisk"), children: <RiskPanel names={names} /> },
            { key: "openings", label: t("openAuth.tabOpenings"), children: <OpeningsPanel names={names} /> },
            { key: "cases", label: t("openAuth.tabCases"), children: <OpenCasesPanel /> },
          ]}
        />
      </Card>
    </>
  );
}
