import { Alert, App, Button, Card, Empty, Input, Modal, Space, Table, Tabs, Tag, Typography } from "antd";
import { useMemo, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { api, type Attr, type Resource } from "../api";
import { isAuthority, useAuth } from "../auth";
import { useEnum, useLang } from "../i18n";
import { useAsync } from "../lib/useAsync";
import { useOrgNames } from "../lib/shared";
import { Async } from "../components/Async";
import { Chart } from "../components/Chart";
import { fmtDate, fmtTime } from "../lib/format";
import { DisputeDialog, MisuseDialog } from "./ShareForms";

interface Grant {
  id: string;
  resource_id: string;
  grantee_org_id: string;
  grantee_client_id?: string;
  fields: string[];
  purpose: string;
  kind: string;
  case_id?: string;
  expires_at?: string;
  state: "active" | "suspended" | "terminated";
  state_reason?: string;
  created_at: string;
  provider_org_id?: string;
  resource_name?: string;
}

interface Usage {
  calls: number;
  rows: number;
  denied: number;
  outside_fields: number;
  last_call?: string;
  days: { day: string; calls: number; rows: number; denied: number }[];
  anomalies: { kind: string; day: string; count: number; zh: string; en: string }[];
  truncated: boolean;
}

const MEASURES: Record<Grant["state"], string[]> = {
  active: ["suspend", "terminate"],
  suspended: ["reinstate", "terminate"],
  terminated: [],
};

function UsagePanel({ grant }: { grant: Grant }) {
  const { t, pick } = useLang();
  const state = useAsync((signal) => api<Usage>(`/api/v1/share/grants/${grant.id}/usage`, { signal }), [grant.id]);
  const option = useMemo(() => {
    const days = state.data?.days ?? [];
    return {
      tooltip: { trigger: "axis" },
      legend: { bottom: 0 },
      grid: { left: 8, right: 16, top: 16, bottom: 32, containLabel: true },
      xAxis: { type: "category", data: days.map((d) => d.day) },
      yAxis: { type: "value", minInterval: 1 },
      series: [
        { name: t("grants.calls"), type: "bar", data: days.map((d) => d.calls), itemStyle: { color: "#1458d6" } },
        { name: t("grants.denied"), type: "bar", data: days.map((d) => d.denied), itemStyle: { color: "#dc2626" } },
      ],
    };
  }, [state.data, t]);
  return (
    <Async state={state} rows={3}>
      {(u) => (
        <div style={{ padding: "8px 0" }}>
          <Space wrap size="large" style={{ marginBottom: 8 }}>
            <span>
              {t("grants.calls")}: <strong>{u.calls}</strong>
            </span>
            <span>
              {t("grants.rows")}: <strong>{u.rows}</strong>
            </span>
            <span>
              {t("grants.denied")}: <strong>{u.denied}</strong>
            </span>
            <span>
              {t("grants.lastCall")}: {fmtTime(u.last_call)}
            </span>
          </Space>
          {u.anomalies.map((a) => (
            <Alert key={a.kind + a.day} type="warning" showIcon title={`${a.day} · ${pick(a.zh, a.en)}`} style={{ marginBottom: 8 }} />
          ))}
          {u.days.every((d) => d.calls === 0 && d.denied === 0) ? <Empty description={t("grants.noUse")} /> : <Chart option={option} label={t("grants.usageChart")} height={220} />}
        </div>
      )}
    </Async>
  );
}

export function Grants() {
  const { t, lang } = useLang();
  const label = useEnum();
  const { me } = useAuth();
  const authority = isAuthority(me);
  const orgName = useOrgNames(lang === "en");
  const { message } = App.useApp();
  const [params, setParams] = useSearchParams();
  const view = params.get("view") ?? (authority ? "all" : "consumer");
  const state = useAsync(
    (signal) => api<{ items: Grant[] }>("/api/v1/share/grants", { query: { view: view === "all" ? "" : view }, signal }),
    [view],
  );
  const names = useAsync(
    async (signal) => {
      const ids = [...new Set((state.data?.items ?? []).map((g) => g.resource_id))];
      const out: Record<string, string> = {};
      await Promise.all(
        ids.map((id) =>
          api<Resource>(`/api/v1/catalog/resources/${id}`, { signal })
            .then((r) => {
              out[id] = r.name;
              attrs[id] = r.share.attr;
            })
            .catch(() => undefined),
        ),
      );
      return out;
    },
    [state.data],
  );
  // Each entry's sharing attribute, filled in with the names: a dispute proposes another.
  const attrs = useRef<Record<string, Attr>>({}).current;
  const [misuse, setMisuse] = useState<Grant>();
  const [dispute, setDispute] = useState<Grant>();
  const [measure, setMeasure] = useState<{ grant: Grant; m: string }>();
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const tabs = [
    { key: "consumer", label: t("grants.consumer") },
    { key: "provider", label: t("grants.provider") },
  ];
  if (authority) tabs.unshift({ key: "all", label: t("grants.all") });
  return (
    <>
      <div className="page-title">
        <h1>{t("console.grants")}</h1>
      </div>
      <Typography.Paragraph type="secondary">{t("grants.hint")}</Typography.Paragraph>
      <Tabs activeKey={view} onChange={(v) => setParams({ view: v }, { replace: true })} items={tabs} />
      <Card>
        <Async state={state} isEmpty={(p) => p.items.length === 0} empty={<Alert type="info" showIcon title={t("grants.none")} />}>
          {(p) => (
            <Table<Grant>
              rowKey="id"
              dataSource={p.items}
              pagination={p.items.length > 20 ? { pageSize: 20 } : false}
              scroll={{ x: 1180 }}
              expandable={{ expandedRowRender: (g) => <UsagePanel grant={g} /> }}
              columns={[
                {
                  title: t("grants.resource"),
                  key: "r",
                  width: 200,
                  render: (_, g) => <Link to={`/catalog/${g.resource_id}`}>{names.data?.[g.resource_id] ?? t("grants.viewEntry")}</Link>,
                },
                { title: t("grants.grantee"), key: "o", width: 140, render: (_, g) => orgName(g.grantee_org_id) },
                { title: t("grants.kind"), key: "k", width: 110, render: (_, g) => label("grantKind", g.kind) },
                { title: t("grants.fields"), key: "f", width: 160, render: (_, g) => <span className="mono">{g.fields.join(", ") || t("grants.allFields")}</span> },
                { title: t("grants.purpose"), dataIndex: "purpose", key: "p", width: 160 },
                {
                  title: t("resource.status"),
                  key: "s",
                  render: (_, g) => (
                    <Space direction="vertical" size={0}>
                      <Tag color={g.state === "active" ? "green" : g.state === "suspended" ? "orange" : "default"}>{label("grantState", g.state)}</Tag>
                      {g.state_reason && <Typography.Text type="secondary">{g.state_reason}</Typography.Text>}
                    </Space>
                  ),
                },
                { title: t("clients.expires"), key: "e", width: 110, render: (_, g) => fmtDate(g.expires_at) },
                {
                  title: t("common.actions"),
                  key: "a",
                  render: (_, g) => (
                    <Space size={0} wrap>
                      {g.case_id && (
                        <Link to={`/console/cases/${g.case_id}`}>
                          <Button type="link">{t("grants.case")}</Button>
                        </Link>
                      )}
                      {me && g.provider_org_id === me.org.id && g.state !== "terminated" && (
                        <Button type="link" danger onClick={() => setMisuse(g)} data-testid={`misuse-${g.id}`}>
                          {t("misuse.action")}
                        </Button>
                      )}
                      {me && g.grantee_org_id === me.org.id && (
                        <Button type="link" onClick={() => setDispute(g)} data-testid={`dispute-${g.id}`}>
                          {t("dispute.action")}
                        </Button>
                      )}
                      {authority &&
                        MEASURES[g.state].map((m) => (
                          <Button key={m} type="link" danger={m !== "reinstate"} onClick={() => setMeasure({ grant: g, m })}>
                            {label("measure", m)}
                          </Button>
                        ))}
                    </Space>
                  ),
                },
              ]}
            />
          )}
        </Async>
      </Card>
      {misuse && (
        <MisuseDialog
          grant={{ id: misuse.id, resource_name: names.data?.[misuse.resource_id] ?? misuse.resource_name, grantee: orgName(misuse.grantee_org_id) }}
          onClose={() => setMisuse(undefined)}
        />
      )}
      {dispute && (
        <DisputeDialog
          resource={{ id: dispute.resource_id, name: names.data?.[dispute.resource_id] ?? dispute.resource_name ?? "", attr: attrs[dispute.resource_id] }}
          onClose={() => setDispute(undefined)}
        />
      )}
      <Modal
        open={!!measure}
        title={measure && t("grants.measureTitle", { measure: label("measure", measure.m) })}
        okText={measure && label("measure", measure.m)}
        cancelText={t("action.cancel")}
        okButtonProps={{ danger: measure?.m !== "reinstate", disabled: !reason.trim() }}
        confirmLoading={busy}
        destroyOnHidden
        onCancel={() => setMeasure(undefined)}
        onOk={async () => {
          if (!measure) return;
          setBusy(true);
          try {
            await api(`/api/v1/share/grants/${measure.grant.id}/${measure.m}`, { body: { reason: reason.trim() } });
            setMeasure(undefined);
            setReason("");
            state.reload();
          } catch (e) {
            message.error((e as Error).message);
          } finally {
            setBusy(false);
          }
        }}
      >
        <label htmlFor="measure-reason">{t("case.reasonRequired")}</label>
        <Input.TextArea id="measure-reason" rows={3} value={reason} onChange={(e) => setReason(e.target.value)} />
      </Modal>
    </>
  );
}
