// Loads and quality (R-AGG-1..4, R-QLT-1, R-SEC-1): the org's hosted
// datasets, each one's loads with their counts (polled while one runs),
// a load's error report, quality over time, who falls behind, and the PII
// hints to confirm or dismiss.
import { Alert, App, Button, Card, Descriptions, Drawer, Input, Modal, Progress, Segmented, Select, Space, Statistic, Table, Tabs, Tag, Typography } from "antd";
import { DownloadOutlined, ReloadOutlined } from "@ant-design/icons";
import { use as useECharts } from "echarts/core";
import { LineChart } from "echarts/charts";
import { useEffect, useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { api, type Resource } from "../api";
import { isAuthority, useAuth } from "../auth";
import { useEnum, useLang } from "../i18n";
import { useAsync } from "../lib/useAsync";
import { loadOrgs } from "../lib/shared";
import { Async } from "../components/Async";
import { Chart } from "../components/Chart";
import { CursorPager, useCursor } from "../components/CursorPager";
import { fmtTime } from "../lib/format";
import {
  datasets,
  decideHint,
  errorsCsvUrl,
  laggards,
  loadErrors,
  loadOne,
  loadsOf,
  piiHints,
  scores,
  type Dataset,
  type Load,
  type LoadStatus,
  type PIIHint,
} from "../api/console";

useECharts([LineChart]);

const STATUS_COLOR: Record<LoadStatus, string> = { loading: "processing", applied: "green", rejected: "red", failed: "red", aborted: "default" };

/** useNames fetches the catalog names of a page of entries. */
function useNames(ids: string[]) {
  const key = ids.join(",");
  return useAsync(
    async (signal) => {
      const out: Record<string, string> = {};
      await Promise.all(
        ids.map((id) =>
          api<Resource>(`/api/v1/catalog/resources/${id}`, { signal })
            .then((r) => (out[id] = r.name))
            .catch(() => undefined),
        ),
      );
      return out;
    },
    [key],
  );
}

function StatusTag({ s }: { s: LoadStatus }) {
  const label = useEnum();
  return <Tag color={STATUS_COLOR[s]}>{label("loadStatus", s)}</Tag>;
}

/** LoadDrawer shows one load, polling while it runs, with its error report. */
function LoadDrawer({ id, onClose }: { id: string; onClose: () => void }) {
  const { t, pick } = useLang();
  const label = useEnum();
  const state = useAsync((signal) => loadOne(id, signal), [id]);
  const running = state.data?.status === "loading";
  useEffect(() => {
    if (!running) return;
    const h = setInterval(state.reload, 2000);
    return () => clearInterval(h);
  }, [running, state.reload]);
  const errs = useAsync((signal) => (state.data && state.data.errors_stored > 0 && !running ? loadErrors(id, signal) : Promise.resolve({ items: [] })), [id, running, state.data?.errors_stored]);
  return (
    <Drawer open onClose={onClose} title={t("loads.loadTitle", { seq: state.data?.seq ?? "…" })} size={Math.min(720, window.innerWidth)}>
      <Async state={state} rows={6}>
        {(b) => (
          <>
            <Space wrap size="large" style={{ marginBottom: 16 }}>
              <StatusTag s={b.status} />
              <Statistic title={t("loads.rowsRead")} value={b.rows_read} />
              <Statistic title={t("loads.rowsStaged")} value={b.rows_staged} />
              <Statistic title={t("loads.rowsRejected")} value={b.rows_rejected} valueStyle={b.rows_rejected ? { color: "#dc2626" } : undefined} />
              <Statistic title={t("loads.rowsTotal")} value={b.rows_total} />
            </Space>
            {running && (
              <div role="status" aria-live="polite" style={{ marginBottom: 16 }} data-testid="load-progress">
                <Progress percent={b.rows_read > 0 ? Math.round((100 * b.rows_staged) / b.rows_read) : 0} status="active" />
                <Typography.Text type="secondary">{t("loads.running", { n: b.rows_read })}</Typography.Text>
              </div>
            )}
            {b.reason && <Alert type={b.status === "applied" ? "info" : "error"} showIcon title={b.reason} style={{ marginBottom: 16 }} />}
            <Descriptions size="small" bordered column={{ xs: 1, md: 2 }} style={{ marginBottom: 16 }}>
              <Descriptions.Item label={t("loads.mode")}>{label("loadMode", b.mode)}</Descriptions.Item>
              <Descriptions.Item label={t("loads.format")}>{b.format.toUpperCase()}</Descriptions.Item>
              <Descriptions.Item label={t("loads.source")}>{b.source || "—"}</Descriptions.Item>
              <Descriptions.Item label={t("loads.changes")}>{t("loads.changesValue", { i: b.inserted, u: b.updated, d: b.deleted })}</Descriptions.Item>
              <Descriptions.Item label={t("loads.started")}>{fmtTime(b.created_at)}</Descriptions.Item>
              <Descriptions.Item label={t("loads.finished")}>{fmtTime(b.finished_at)}</Descriptions.Item>
              {b.content_hash && (
                <Descriptions.Item label={t("loads.hash")} span={2}>
                  <span className="mono">{b.content_hash}</span>
                </Descriptions.Item>
              )}
            </Descriptions>
            {b.profile && (
              <Card size="small" title={<h3 className="card-h">{t("loads.profile")}</h3>} style={{ marginBottom: 16 }}>
                <Space wrap size="large">
                  <Statistic title={t("quality.score")} value={b.profile.score} precision={1} />
                  {(["completeness", "validity", "uniqueness", "timeliness"] as const).map((k) => (
                    <Statistic key={k} title={t(`quality.${k}`)} value={b.profile![k] * 100} precision={1} suffix="%" />
                  ))}
                </Space>
              </Card>
            )}
            <Space style={{ marginBottom: 8 }} wrap>
              <Typography.Title level={3} style={{ fontSize: 15, margin: 0 }}>
                {t("loads.errors", { n: b.errors_stored })}
              </Typography.Title>
              {b.errors_stored > 0 && (
                <a href={errorsCsvUrl(b.id)} download={`errors-${b.id}.csv`} data-testid="errors-csv">
                  <Button size="small" icon={<DownloadOutlined />}>
                    {t("loads.errorsCsv")}
                  </Button>
                </a>
              )}
            </Space>
            {b.errors_stored === 0 ? (
              <Typography.Paragraph type="secondary">{t("loads.noErrors")}</Typography.Paragraph>
            ) : (
              <Async state={errs} rows={3}>
                {(p) => (
                  <Table
                    size="small"
                    rowKey={(l) => `${l.row}:${l.column ?? 0}:${l.code}`}
                    dataSource={p.items}
                    pagination={{ pageSize: 10, hideOnSinglePage: true }}
                    scroll={{ x: 560 }}
                    data-testid="load-errors"
                    columns={[
                      { title: t("loads.row"), dataIndex: "row", key: "row", width: 70 },
                      { title: t("loads.field"), key: "f", width: 120, render: (_, l) => <span className="mono">{l.field || "—"}</span> },
                      { title: t("loads.problem"), key: "p", render: (_, l) => pick(l.zh, l.en) },
                      { title: t("loads.value"), key: "v", width: 140, render: (_, l) => <span className="mono">{l.value ?? ""}</span> },
                    ]}
                  />
                )}
              </Async>
            )}
          </>
        )}
      </Async>
    </Drawer>
  );
}

/** LoadsPanel lists one dataset's loads, newest first, polling while one runs. */
function LoadsPanel({ ds, open }: { ds: Dataset; open: (id: string) => void }) {
  const { t } = useLang();
  const label = useEnum();
  const cur = useCursor();
  const state = useAsync((signal) => loadsOf(ds.resource_id, signal, cur.cursor), [ds.resource_id, cur.cursor]);
  const running = state.data?.items.some((b) => b.status === "loading");
  useEffect(() => {
    if (!running) return;
    const h = setInterval(state.reload, 2000);
    return () => clearInterval(h);
  }, [running, state.reload]);
  return (
    <Async state={state} rows={2} isEmpty={(p) => p.items.length === 0} empty={<Typography.Text type="secondary">{t("loads.noLoads")}</Typography.Text>}>
      {(p) => (
        <>
          <Table<Load>
            size="small"
            rowKey="id"
            dataSource={p.items}
            pagination={false}
            scroll={{ x: 860 }}
            data-testid={`loads-${ds.resource_code}`}
            columns={[
              { title: "#", dataIndex: "seq", key: "seq", width: 50 },
              { title: t("resource.status"), key: "s", width: 110, render: (_, b) => <StatusTag s={b.status} /> },
              { title: t("loads.mode"), key: "m", width: 90, render: (_, b) => label("loadMode", b.mode) },
              { title: t("loads.source"), key: "src", render: (_, b) => b.source || b.format.toUpperCase() },
              { title: t("loads.rowsRead"), dataIndex: "rows_read", key: "r", width: 90 },
              { title: t("loads.rowsRejected"), dataIndex: "rows_rejected", key: "rj", width: 90 },
              { title: t("quality.score"), key: "sc", width: 80, render: (_, b) => (b.profile ? b.profile.score.toFixed(1) : "—") },
              { title: t("loads.started"), key: "at", width: 150, render: (_, b) => fmtTime(b.created_at) },
              {
                title: t("common.actions"),
                key: "a",
                width: 90,
                render: (_, b) => (
                  <Button size="small" onClick={() => open(b.id)} aria-label={t("loads.loadTitle", { seq: b.seq })} data-testid={`load-${b.seq}`}>
                    {t("loads.view")}
                  </Button>
                ),
              },
            ]}
          />
          <CursorPager cur={cur} next={p.next_cursor} />
        </>
      )}
    </Async>
  );
}

function DatasetsTab() {
  const { t } = useLang();
  const label = useEnum();
  const cur = useCursor();
  const state = useAsync((signal) => datasets(signal, cur.cursor), [cur.cursor]);
  const names = useNames((state.data?.items ?? []).map((d) => d.resource_id));
  const [loadID, setLoadID] = useState<string>();
  return (
    <Card>
      <Async state={state} isEmpty={(p) => p.items.length === 0} empty={<Alert type="info" showIcon title={t("loads.noDatasets")} description={t("loads.noDatasetsHint")} />}>
        {(p) => (
          <>
            <Table<Dataset>
              rowKey="resource_id"
              dataSource={p.items}
              pagination={false}
              scroll={{ x: 820 }}
              data-testid="datasets-table"
              expandable={{ expandedRowRender: (d) => <LoadsPanel ds={d} open={setLoadID} />, expandRowByClick: false }}
              columns={[
                {
                  title: t("loads.entry"),
                  key: "n",
                  render: (_, d) => (
                    <Space direction="vertical" size={0}>
                      <Link to={`/catalog/${d.resource_id}`}>{names.data?.[d.resource_id] ?? d.resource_code}</Link>
                      <Typography.Text type="secondary" className="mono" style={{ fontSize: 12 }}>
                        {d.resource_code}
                      </Typography.Text>
                    </Space>
                  ),
                },
                { title: t("loads.rows"), dataIndex: "rows", key: "rows", width: 100 },
                { title: t("loads.frequency"), key: "f", width: 100, render: (_, d) => label("frequency", d.frequency) },
                {
                  title: t("resource.status"),
                  key: "s",
                  width: 150,
                  render: (_, d) =>
                    d.status === "ready" ? (
                      <Tag color="green">{t("loads.ready")}</Tag>
                    ) : (
                      <Space direction="vertical" size={0}>
                        <Tag color="red">{t("loads.refused")}</Tag>
                        {d.status_reason && <Typography.Text type="secondary">{d.status_reason}</Typography.Text>}
                      </Space>
                    ),
                },
                { title: t("loads.lastLoad"), key: "l", width: 160, render: (_, d) => fmtTime(d.last_load_at) },
              ]}
            />
            <CursorPager cur={cur} next={p.next_cursor} />
          </>
        )}
      </Async>
      {loadID && <LoadDrawer id={loadID} onClose={() => setLoadID(undefined)} />}
    </Card>
  );
}

function QualityTab() {
  const { t, lang } = useLang();
  const label = useEnum();
  const { me } = useAuth();
  const authority = isAuthority(me);
  const [org, setOrg] = useState<string>(me?.org.id ?? "");
  const orgs = useAsync(() => (authority ? loadOrgs() : Promise.resolve([])), [authority]);
  const pts = useAsync((signal) => scores({ org }, signal), [org]);
  const lag = useAsync((signal) => laggards(signal), []);
  const option = useMemo(() => {
    const d = pts.data?.items ?? [];
    const series = (["completeness", "validity", "uniqueness", "timeliness"] as const).map((k) => ({
      name: t(`quality.${k}`),
      type: "line",
      yAxisIndex: 1,
      showSymbol: d.length < 40,
      data: d.map((p) => +(p[k] * 100).toFixed(1)),
    }));
    return {
      tooltip: { trigger: "axis" },
      legend: { bottom: 0 },
      grid: { left: 8, right: 8, top: 24, bottom: 40, containLabel: true },
      xAxis: { type: "category", data: d.map((p) => p.day) },
      yAxis: [
        { type: "value", min: 0, max: 100, name: t("quality.score") },
        { type: "value", min: 0, max: 100, name: "%", splitLine: { show: false } },
      ],
      series: [{ name: t("quality.score"), type: "bar", data: d.map((p) => p.score), itemStyle: { color: "#1458d6" } }, ...series],
    };
  }, [pts.data, t]);
  const mine = (lag.data?.entries ?? []).filter((e) => authority ? !org || e.org_id === org : true);
  return (
    <>
      <Card
        style={{ marginBottom: 16 }}
        title={<h2 className="card-h">{t("quality.overTime")}</h2>}
        extra={
          authority && (
            <Select
              aria-label={t("quality.org")}
              style={{ width: 220 }}
              showSearch
              optionFilterProp="label"
              value={org}
              onChange={setOrg}
              options={(orgs.data ?? []).map((o) => ({ value: o.id, label: lang === "en" && o.name_en ? o.name_en : o.name }))}
            />
          )
        }
      >
        <Async state={pts} rows={4} isEmpty={(p) => p.items.length === 0} empty={<Alert type="info" showIcon title={t("quality.noScores")} />}>
          {(p) => (
            <>
              <Space wrap size="large" style={{ marginBottom: 8 }} data-testid="quality-latest">
                <Statistic title={t("quality.latest")} value={p.items[p.items.length - 1].score} precision={1} />
                <Statistic title={t("quality.loadsCounted")} value={p.items.reduce((a, x) => a + x.loads, 0)} />
              </Space>
              <div data-testid="quality-chart">
                <Chart option={option} label={t("quality.chartLabel")} height={300} />
              </div>
            </>
          )}
        </Async>
      </Card>
      <Card title={<h2 className="card-h">{t("quality.laggards")}</h2>}>
        <Async state={lag} rows={3} isEmpty={() => mine.length === 0} empty={<Alert type="success" showIcon title={t("quality.noLaggards")} />}>
          {() => (
            <Table
              size="small"
              rowKey={(e) => e.resource_id}
              dataSource={mine}
              pagination={{ pageSize: 10, hideOnSinglePage: true }}
              scroll={{ x: 720 }}
              data-testid="laggards-table"
              columns={[
                { title: t("loads.entry"), key: "n", render: (_, e) => <Link to={`/catalog/${e.resource_id}`}>{e.resource_name || e.resource_code}</Link> },
                ...(authority ? [{ title: t("quality.org"), key: "o", render: (_: unknown, e: (typeof mine)[number]) => e.org_name ?? e.org_id }] : []),
                { title: t("quality.reason"), key: "r", render: (_, e) => <Tag color={e.reason === "low_score" ? "orange" : "red"}>{label("laggard", e.reason)}</Tag> },
                { title: t("loads.frequency"), key: "f", render: (_, e) => label("frequency", e.frequency) },
                { title: t("loads.lastLoad"), key: "l", render: (_, e) => fmtTime(e.last_load_at) },
                { title: t("quality.due"), key: "d", render: (_, e) => fmtTime(e.due_at) },
                { title: t("quality.score"), key: "s", render: (_, e) => (e.score === undefined ? "—" : e.score.toFixed(1)) },
              ]}
            />
          )}
        </Async>
      </Card>
    </>
  );
}

function HintsTab() {
  const { t } = useLang();
  const label = useEnum();
  const { message } = App.useApp();
  const [status, setStatus] = useState<string>("open");
  const state = useAsync((signal) => piiHints(status, signal), [status]);
  const names = useNames([...new Set((state.data?.items ?? []).map((h) => h.resource_id))]);
  const [deciding, setDeciding] = useState<{ hint: PIIHint; status: "resolved" | "dismissed" }>();
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  return (
    <Card>
      <Typography.Paragraph type="secondary">{t("pii.hint")}</Typography.Paragraph>
      <Segmented
        aria-label={t("pii.filter")}
        value={status}
        onChange={(v) => setStatus(String(v))}
        options={["open", "resolved", "dismissed", "all"].map((s) => ({ value: s, label: label("piiStatus", s) }))}
        style={{ marginBottom: 16 }}
      />
      <Async state={state} isEmpty={(p) => p.items.length === 0} empty={<Alert type="success" showIcon title={t("pii.none")} />}>
        {(p) => (
          <Table<PIIHint>
            rowKey="id"
            size="small"
            dataSource={p.items}
            pagination={{ pageSize: 10, hideOnSinglePage: true }}
            scroll={{ x: 860 }}
            data-testid="pii-table"
            columns={[
              { title: t("loads.entry"), key: "r", render: (_, h) => <Link to={`/catalog/${h.resource_id}`}>{names.data?.[h.resource_id] ?? h.resource_id.slice(0, 8)}</Link> },
              { title: t("loads.field"), key: "f", render: (_, h) => <span className="mono">{h.field}</span> },
              { title: t("pii.entity"), key: "e", render: (_, h) => label("piiEntity", h.entity) },
              { title: t("pii.matched"), key: "m", render: (_, h) => `${h.matched} / ${h.sampled}` },
              { title: t("pii.examples"), key: "x", render: (_, h) => <span className="mono">{h.examples.join(", ")}</span> },
              { title: t("resource.status"), key: "s", render: (_, h) => <Tag color={h.status === "open" ? "orange" : "default"}>{label("piiStatus", h.status)}</Tag> },
              {
                title: t("common.actions"),
                key: "a",
                render: (_, h) =>
                  h.status === "open" ? (
                    <Space size={0} wrap>
                      <Button type="link" onClick={() => setDeciding({ hint: h, status: "resolved" })} data-testid={`pii-resolve-${h.field}`}>
                        {t("pii.resolve")}
                      </Button>
                      <Button type="link" onClick={() => setDeciding({ hint: h, status: "dismissed" })} data-testid={`pii-dismiss-${h.field}`}>
                        {t("pii.dismiss")}
                      </Button>
                    </Space>
                  ) : (
                    <Typography.Text type="secondary">{h.note || "—"}</Typography.Text>
                  ),
              },
            ]}
          />
        )}
      </Async>
      <Modal
        open={!!deciding}
        title={deciding && (deciding.status === "resolved" ? t("pii.resolveTitle", { field: deciding.hint.field }) : t("pii.dismissTitle", { field: deciding.hint.field }))}
        okText={deciding && (deciding.status === "resolved" ? t("pii.resolve") : t("pii.dismiss"))}
        cancelText={t("action.cancel")}
        okButtonProps={{ disabled: deciding?.status === "dismissed" && !note.trim(), id: "pii-confirm" }}
        confirmLoading={busy}
        destroyOnHidden
        onCancel={() => setDeciding(undefined)}
        onOk={async () => {
          if (!deciding) return;
          setBusy(true);
          try {
            await decideHint(deciding.hint.id, deciding.status, note.trim());
            message.success(t("pii.done"));
            setDeciding(undefined);
            setNote("");
            state.reload();
          } catch (e) {
            message.error((e as Error).message);
          } finally {
            setBusy(false);
          }
        }}
      >
        <Typography.Paragraph type="secondary">{deciding?.status === "resolved" ? t("pii.resolveHow") : t("pii.dismissHow")}</Typography.Paragraph>
        <label htmlFor="pii-note">{deciding?.status === "dismissed" ? t("case.reasonRequired") : t("case.reasonOptional")}</label>
        <Input.TextArea id="pii-note" rows={3} value={note} onChange={(e) => setNote(e.target.value)} maxLength={2000} />
      </Modal>
    </Card>
  );
}

export function Loads() {
  const { t } = useLang();
  const [params, setParams] = useSearchParams();
  const tab = params.get("tab") ?? "datasets";
  const [tick, setTick] = useState(0);
  return (
    <>
      <div className="page-title">
        <h1>{t("console.loads")}</h1>
        <Button icon={<ReloadOutlined />} onClick={() => setTick((x) => x + 1)}>
          {t("loads.refresh")}
        </Button>
      </div>
      <Typography.Paragraph type="secondary">{t("loads.intro")}</Typography.Paragraph>
      <Tabs
        activeKey={tab}
        onChange={(k) => setParams({ tab: k }, { replace: true })}
        items={[
          { key: "datasets", label: t("loads.tabDatasets"), children: <DatasetsTab key={tick} /> },
          { key: "quality", label: t("loads.tabQuality"), children: <QualityTab key={tick} /> },
          { key: "pii", label: t("loads.tabPii"), children: <HintsTab key={tick} /> },
        ]}
      />
    </>
  );
}
