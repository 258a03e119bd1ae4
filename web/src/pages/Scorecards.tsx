// Org scorecards (R-GOV-1, R-GOV-3, R-QLT-2): a bar chart per measure, a
// sortable table, and one org's card with what pulls it down and a link to
// order rectification.
import { Alert, App, Button, Card, Col, Descriptions, Drawer, Empty, Form, Input, InputNumber, Modal, Progress, Row, Segmented, Select, Space, Table, Tag, Typography } from "antd";
import { useMemo, useState } from "react";
import { useNavigate, useSearchParams } from "react-router-dom";
import { api, type Case } from "../api";
import { isAuthority, useAuth } from "../auth";
import { useEnum, useLang } from "../i18n";
import { useAsync } from "../lib/useAsync";
import { Async } from "../components/Async";
import { Chart } from "../components/Chart";
import { fmtDate } from "../lib/format";
import { scorecards, type CaseMeasure, type Scorecard } from "../api/console";

type Measure = "overall" | "completeness" | "timeliness" | "quality" | "onTime" | "objections";
const MEASURES: Measure[] = ["overall", "completeness", "timeliness", "quality", "onTime", "objections"];

function value(c: Scorecard, m: Measure): number | null {
  switch (m) {
    case "overall":
      return c.overall;
    case "completeness":
      return c.catalog.completeness;
    case "timeliness":
      return c.aggregation.timeliness;
    case "quality":
      return c.quality.score;
    case "onTime":
      return c.cases.on_time;
    case "objections":
      return c.objections.on_time;
  }
}

const color = (v: number | null) => (v === null ? "#94a3b8" : v >= 80 ? "#16a34a" : v >= 60 ? "#d97706" : "#dc2626");

function Pct({ v }: { v: number | null }) {
  if (v === null) return <Typography.Text type="secondary">—</Typography.Text>;
  return <span style={{ color: color(v), fontWeight: 600 }}>{v.toFixed(1)}</span>;
}

function CaseBlock({ m, title }: { m: CaseMeasure; title: string }) {
  const { t } = useLang();
  return (
    <Descriptions size="small" bordered column={1} title={<h3 className="card-h">{title}</h3>} style={{ marginBottom: 16 }}>
      <Descriptions.Item label={t("score.received")}>{m.received}</Descriptions.Item>
      <Descriptions.Item label={t("score.decided")}>{m.decided}</Descriptions.Item>
      <Descriptions.Item label={t("score.open")}>
        {m.open}
        {m.overdue > 0 && (
          <Tag color="red" style={{ marginLeft: 8 }}>
            {t("score.overdueN", { n: m.overdue })}
          </Tag>
        )}
      </Descriptions.Item>
      <Descriptions.Item label={t("score.onTime")}>
        <Pct v={m.on_time} />
      </Descriptions.Item>
      <Descriptions.Item label={t("score.meanDays")}>{m.mean_days === null ? "—" : t("score.days", { n: m.mean_days })}</Descriptions.Item>
    </Descriptions>
  );
}

/** CardView is one org's scorecard. */
export function CardView({ c, authority }: { c: Scorecard; authority: boolean }) {
  const { t } = useLang();
  const label = useEnum();
  const missing = Object.entries(c.catalog.missing).filter(([, n]) => n > 0);
  return (
    <div data-testid="scorecard">
      <Row gutter={[16, 16]} style={{ marginBottom: 16 }}>
        {MEASURES.map((m) => {
          const v = value(c, m);
          return (
            <Col key={m} xs={12} sm={8}>
              <Space direction="vertical" align="center" style={{ width: "100%" }}>
                <Progress type="dashboard" size={96} percent={v ?? 0} strokeColor={color(v)} format={() => (v === null ? "—" : v.toFixed(0))} aria-label={`${t(`score.m.${m}`)}: ${v ?? "—"}`} />
                <span>{t(`score.m.${m}`)}</span>
              </Space>
            </Col>
          );
        })}
      </Row>
      <Descriptions size="small" bordered column={1} title={<h3 className="card-h">{t("score.m.completeness")}</h3>} style={{ marginBottom: 16 }}>
        <Descriptions.Item label={t("score.published")}>{c.catalog.published}</Descriptions.Item>
        <Descriptions.Item label={t("score.complete")}>{c.catalog.complete}</Descriptions.Item>
        <Descriptions.Item label={t("score.missing")}>
          {missing.length === 0 ? "—" : missing.map(([k, n]) => <Tag key={k}>{`${label("scoreCheck", k)} × ${n}`}</Tag>)}
        </Descriptions.Item>
      </Descriptions>
      <Descriptions size="small" bordered column={1} title={<h3 className="card-h">{t("score.m.timeliness")}</h3>} style={{ marginBottom: 16 }}>
        <Descriptions.Item label={t("score.hosted")}>{c.aggregation.hosted}</Descriptions.Item>
        <Descriptions.Item label={t("score.loaded")}>{c.aggregation.loaded}</Descriptions.Item>
        <Descriptions.Item label={t("score.late")}>{c.aggregation.late}</Descriptions.Item>
        <Descriptions.Item label={t("score.m.quality")}>
          <Pct v={c.quality.score} />
        </Descriptions.Item>
      </Descriptions>
      <CaseBlock m={c.cases} title={t("score.m.onTime")} />
      <CaseBlock m={c.objections} title={t("score.m.objections")} />
      {authority && <RectifyButton c={c} />}
    </div>
  );
}

const FAILINGS = ["catalog", "quality", "collect_share_open", "other"];

/** RectifyButton lets the authority order an org to rectify (R-GOV-3, XM63). */
function RectifyButton({ c }: { c: Scorecard }) {
  const { t } = useLang();
  const label = useEnum();
  const { message } = App.useApp();
  const nav = useNavigate();
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [form] = Form.useForm<{ failing: string; description: string; requirements?: string; working_days: number }>();
  return (
    <>
      <Button danger onClick={() => setOpen(true)} data-testid="rectify">
        {t("score.rectify")}
      </Button>
      <Modal
        open={open}
        title={t("score.rectifyTitle", { org: c.org_name })}
        okText={t("score.rectify")}
        cancelText={t("action.cancel")}
        okButtonProps={{ danger: true }}
        confirmLoading={busy}
        destroyOnHidden
        onCancel={() => setOpen(false)}
        onOk={() => form.submit()}
      >
        <Form
          form={form}
          layout="vertical"
          initialValues={{ failing: c.catalog.completeness !== null && c.catalog.completeness < 60 ? "catalog" : "quality", working_days: 20 }}
          onFinish={async (v) => {
            setBusy(true);
            try {
              const made = await api<Case>("/api/v1/cases", {
                body: { kind: "rectification_order", title: t("score.rectifyCaseTitle", { org: c.org_name }), target: { type: "org", id: c.org_id }, payload: v },
              });
              message.success(t("score.rectified"));
              nav(`/console/cases/${made.id}`);
            } catch (e) {
              message.error((e as Error).message);
            } finally {
              setBusy(false);
            }
          }}
        >
          <Form.Item name="failing" label={t("score.failingGround")} rules={[{ required: true }]}>
            <Select options={FAILINGS.map((f) => ({ value: f, label: label("failing", f) }))} />
          </Form.Item>
          <Form.Item name="description" label={t("payload.description")} rules={[{ required: true, whitespace: true, message: t("cform.required") }]}>
            <Input.TextArea rows={3} maxLength={5000} />
          </Form.Item>
          <Form.Item name="requirements" label={t("score.requirements")}>
            <Input.TextArea rows={2} maxLength={5000} />
          </Form.Item>
          <Form.Item name="working_days" label={t("score.workingDays")} rules={[{ required: true }]}>
            <InputNumber min={1} max={120} />
          </Form.Item>
        </Form>
      </Modal>
    </>
  );
}

export function Scorecards() {
  const { t } = useLang();
  const label = useEnum();
  const { me } = useAuth();
  const authority = isAuthority(me);
  const [params, setParams] = useSearchParams();
  const measure = (params.get("measure") as Measure) || "overall";
  const openOrg = params.get("org") ?? "";
  const state = useAsync((signal) => scorecards(signal), []);
  const [sorted, setSorted] = useState<Scorecard[]>();
  const set = (k: string, v: string) => {
    const n = new URLSearchParams(params);
    if (v) n.set(k, v);
    else n.delete(k);
    setParams(n, { replace: true });
  };
  const items = state.data?.items ?? [];
  const option = useMemo(() => {
    const rows = [...items].sort((a, b) => (value(a, measure) ?? -1) - (value(b, measure) ?? -1));
    return {
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      grid: { left: 8, right: 32, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: "value", min: 0, max: 100 },
      yAxis: { type: "category", data: rows.map((c) => c.org_name), axisLabel: { width: 140, overflow: "truncate" } },
      series: [
        {
          name: t(`score.m.${measure}`),
          type: "bar",
          data: rows.map((c) => ({ value: value(c, measure) ?? 0, itemStyle: { color: color(value(c, measure)) }, orgId: c.org_id })),
          label: { show: true, position: "right", formatter: (p: { dataIndex: number }) => (value(rows[p.dataIndex], measure) === null ? "—" : String(value(rows[p.dataIndex], measure))) },
        },
      ],
    };
  }, [items, measure, t]);
  const current = items.find((c) => c.org_id === openOrg);
  const col = (m: Measure) => ({
    title: t(`score.m.${m}`),
    key: m,
    width: 110,
    sorter: (a: Scorecard, b: Scorecard) => (value(a, m) ?? -1) - (value(b, m) ?? -1),
    render: (_: unknown, c: Scorecard) => <Pct v={value(c, m)} />,
  });
  return (
    <>
      <div className="page-title">
        <h1>{t("authority.scorecards")}</h1>
      </div>
      <Typography.Paragraph type="secondary">{t("score.intro")}</Typography.Paragraph>
      <Async state={state} rows={8} isEmpty={(r) => r.items.length === 0} empty={<Empty description={t("score.none")} />}>
        {(r) => (
          <>
            <Typography.Paragraph type="secondary">{t("score.period", { since: fmtDate(r.since), at: fmtDate(r.at) })}</Typography.Paragraph>
            {r.items.length > 1 && (
              <Card
                style={{ marginBottom: 16 }}
                title={<h2 className="card-h">{t("score.chart")}</h2>}
                extra={
                  <Segmented
                    aria-label={t("score.measure")}
                    value={measure}
                    onChange={(v) => set("measure", String(v))}
                    options={MEASURES.map((m) => ({ value: m, label: t(`score.m.${m}`) }))}
                    data-testid="measure-switch"
                  />
                }
              >
                <div data-testid="scorecards-chart">
                  <Chart option={option} label={t("score.chartLabel", { measure: t(`score.m.${measure}`) })} height={Math.max(200, 32 * r.items.length + 40)} />
                </div>
              </Card>
            )}
            {r.items.length === 1 && !authority ? (
              <Card title={<h2 className="card-h">{r.items[0].org_name}</h2>}>
                <CardView c={r.items[0]} authority={false} />
              </Card>
            ) : (
              <Card title={<h2 className="card-h">{t("score.table")}</h2>}>
                <Table<Scorecard>
                  rowKey="org_id"
                  dataSource={sorted ?? r.items}
                  pagination={{ pageSize: 20, hideOnSinglePage: true }}
                  scroll={{ x: 960 }}
                  data-testid="scorecards-table"
                  onChange={(_, __, ___, extra) => setSorted(extra.currentDataSource)}
                  columns={[
                    {
                      title: t("score.org"),
                      key: "org",
                      fixed: "left",
                      width: 220,
                      render: (_, c) => (
                        <Button type="link" style={{ padding: 0, whiteSpace: "normal", textAlign: "left" }} onClick={() => set("org", c.org_id)} data-testid={`card-${c.org_id}`}>
                          {c.org_name}
                        </Button>
                      ),
                    },
                    { title: t("score.kind"), key: "k", width: 120, render: (_, c) => label("orgKind", c.org_kind) },
                    ...MEASURES.map(col),
                    {
                      title: t("score.overdue"),
                      key: "od",
                      width: 90,
                      sorter: (a, b) => a.cases.overdue - b.cases.overdue,
                      render: (_, c) => (c.cases.overdue > 0 ? <Tag color="red">{c.cases.overdue}</Tag> : 0),
                    },
                  ]}
                />
              </Card>
            )}
          </>
        )}
      </Async>
      {current && (
        <Drawer open onClose={() => set("org", "")} title={current.org_name} size={Math.min(600, window.innerWidth)}>
          {current.overall !== null && current.overall < 60 && <Alert type="error" showIcon title={t("score.failing")} style={{ marginBottom: 16 }} />}
          <CardView c={current} authority={authority} />
        </Drawer>
      )}
    </>
  );
}
