import { Alert, Card, Select, Space, Table, Tabs, Tag, Typography } from "antd";
import { Link, useSearchParams } from "react-router-dom";
import { api, type Case, type Page } from "../api";
import { useEnum, useLang } from "../i18n";
import { useAsync } from "../lib/useAsync";
import { useCaseKinds } from "../lib/cases";
import { useOrgNames } from "../lib/shared";
import { Async } from "../components/Async";
import { CursorPager, useCursor } from "../components/CursorPager";
import { Deadline } from "../components/Deadline";
import { fmtDate } from "../lib/format";

type Scope = "org" | "all" | "overdue";

function useCaseColumns() {
  const { t, lang, pick } = useLang();
  const label = useEnum();
  const kinds = useCaseKinds();
  const orgName = useOrgNames(lang === "en");
  return [
    {
      title: t("case.title"),
      key: "title",
      width: 240,
      render: (_: unknown, c: Case) => (
        <Link to={`/console/cases/${c.id}`} data-testid="case-link">
          {c.title || c.id}
        </Link>
      ),
    },
    {
      title: t("case.kind"),
      key: "kind",
      render: (_: unknown, c: Case) => {
        const k = kinds.find((x) => x.name === c.kind);
        return k ? pick(k.label_zh, k.label_en) : c.kind;
      },
    },
    { title: t("case.state"), key: "state", render: (_: unknown, c: Case) => <Tag>{label("state", c.state)}</Tag> },
    { title: t("case.deadline"), key: "deadline", render: (_: unknown, c: Case) => <Deadline c={c} /> },
    {
      title: t("case.level"),
      key: "level",
      render: (_: unknown, c: Case) => (c.level > 0 ? <Tag color="volcano">{label("escalation", c.level_name) || c.level_name}</Tag> : "—"),
    },
    { title: t("case.applicant"), key: "app", render: (_: unknown, c: Case) => orgName(c.applicant.org_id) },
    { title: t("case.targetOrg"), key: "tgt", render: (_: unknown, c: Case) => orgName(c.target.org_id) },
    { title: t("case.filed"), key: "created", render: (_: unknown, c: Case) => <span className="nowrap">{fmtDate(c.created_at)}</span> },
  ];
}

/** byUrgency puts overdue cases first, then open ones by deadline, then the rest. */
function byUrgency(a: Case, b: Case) {
  const rank = (c: Case) => (c.overdue ? 0 : c.phase === "active" ? 1 : c.phase === "paused" ? 2 : 3);
  if (rank(a) !== rank(b)) return rank(a) - rank(b);
  const da = a.deadline ? Date.parse(a.deadline) : Infinity;
  const db = b.deadline ? Date.parse(b.deadline) : Infinity;
  return da - db;
}

function CaseTable({ query, testid, emptyText }: { query: Record<string, string>; testid: string; emptyText: string }) {
  const cur = useCursor();
  const key = JSON.stringify(query);
  const state = useAsync((signal) => api<Page<Case>>("/api/v1/cases", { query: { ...query, limit: 20, cursor: cur.cursor }, signal }), [key, cur.cursor]);
  const cols = useCaseColumns();
  return (
    <Async state={state} isEmpty={(p) => p.items.length === 0 && !cur.cursor} empty={<Alert type="info" showIcon title={emptyText} />}>
      {(p) => (
        <>
          <Table<Case>
            rowKey="id"
            columns={cols}
            dataSource={[...p.items].sort(byUrgency)}
            pagination={false}
            scroll={{ x: 1100 }}
            loading={state.loading}
            data-testid={testid}
            rowClassName={(c) => (c.overdue ? "row-overdue" : "")}
          />
          <CursorPager cur={cur} next={p.next_cursor} />
        </>
      )}
    </Async>
  );
}

export function CaseList({ scope }: { scope: Scope }) {
  const { t, pick } = useLang();
  const kinds = useCaseKinds();
  const [params, setParams] = useSearchParams();
  const kind = params.get("kind") ?? "";
  const set = (k: string, v?: string) => {
    const p = new URLSearchParams(params);
    if (v) p.set(k, v);
    else p.delete(k);
    setParams(p, { replace: true });
  };
  const kindFilter = (
    <Space wrap>
      <label htmlFor="case-kind">{t("case.kind")}</label>
      <Select
        id="case-kind"
        allowClear
        style={{ minWidth: 200 }}
        value={kind || undefined}
        placeholder={t("case.allKinds")}
        options={kinds.map((k) => ({ value: k.name, label: pick(k.label_zh, k.label_en) }))}
        onChange={(v) => set("kind", v)}
      />
    </Space>
  );
  const base: Record<string, string> = kind ? { kind } : {};

  if (scope === "overdue")
    return (
      <>
        <div className="page-title">
          <h1>{t("authority.overdue")}</h1>
          {kindFilter}
        </div>
        <Typography.Paragraph type="secondary">{t("authority.overdueHint")}</Typography.Paragraph>
        <Card>
          <CaseTable query={{ ...base, overdue: "true" }} testid="overdue-table" emptyText={t("case.noOverdue")} />
        </Card>
      </>
    );

  if (scope === "all")
    return (
      <>
        <div className="page-title">
          <h1>{t("authority.allCases")}</h1>
          {kindFilter}
        </div>
        <Card title={<h2 className="card-h">{t("case.overdueFirst")}</h2>} style={{ marginBottom: 16 }}>
          <CaseTable query={{ ...base, overdue: "true" }} testid="overdue-table" emptyText={t("case.noOverdue")} />
        </Card>
        <Card title={<h2 className="card-h">{t("case.others")}</h2>}>
          <CaseTable query={{ ...base, overdue: "false" }} testid="cases-table" emptyText={t("case.none")} />
        </Card>
      </>
    );

  const view = params.get("view") ?? "awaiting";
  return (
    <>
      <div className="page-title">
        <h1>{t("console.cases")}</h1>
        {kindFilter}
      </div>
      <Tabs
        activeKey={view}
        onChange={(v) => set("view", v)}
        items={[
          { key: "awaiting", label: t("case.viewAwaiting") },
          { key: "org", label: t("case.viewOrg") },
          { key: "filed", label: t("case.viewFiled") },
        ]}
      />
      <Card title={<h2 className="card-h">{t("case.overdueFirst")}</h2>} style={{ marginBottom: 16 }}>
        <CaseTable query={{ ...base, view, overdue: "true" }} testid="overdue-table" emptyText={t("case.noOverdue")} />
      </Card>
      <Card title={<h2 className="card-h">{t("case.others")}</h2>}>
        <CaseTable query={{ ...base, view, overdue: "false" }} testid="cases-table" emptyText={t("case.none")} />
      </Card>
    </>
  );
}
