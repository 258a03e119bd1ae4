// The open-data parts of a resource page (R-OPN-1, R-OPN-2, R-OPN-5, R-DEV-6):
// free downloads and a preview with a chart for unconditional entries, the
// application form and grant-based downloads for conditional ones, and the
// public "please open this data" request for entries not open.
import { Alert, App, Button, Card, Checkbox, Descriptions, Form, Input, InputNumber, Select, Space, Table, Tag, Typography } from "antd";
import { DownloadOutlined } from "@ant-design/icons";
import { useMemo, useState } from "react";
import { Link, useLocation, useNavigate } from "react-router-dom";
import { type Case, type Field, type Resource } from "../api";
import {
  applyOpen,
  downloadOpen,
  myOpenGrants,
  OPEN_FORMATS,
  openDataPath,
  previewOpen,
  requestOpen,
  type GatePage,
  type OpenApplicant,
  type OpenFormat,
  type OpenGrant,
  type Receipt,
} from "../api/open";
import { useAuth } from "../auth";
import { useLang } from "../i18n";
import { useAsync } from "../lib/useAsync";
import { fmtDate } from "../lib/format";
import { Async, ErrorState } from "./Async";
import { Chart } from "./Chart";
import { CodeBlock } from "./CodeBlock";

const PREVIEW_ROWS = 50;

/** FreeNote says opening never involves payment (R-DEV-6). */
export function OpenFreeNote() {
  const { t } = useLang();
  return <Alert type="success" showIcon title={t("openData.free")} description={t("openData.freeDetail")} style={{ marginBottom: 16 }} data-testid="open-free" />;
}

/** OpenDownloads offers the entry in CSV, XLSX and JSON; with grant, under an approved application's grant. */
export function OpenDownloads({ r, grant }: { r: Resource; grant?: OpenGrant }) {
  const { t } = useLang();
  const [busy, setBusy] = useState<OpenFormat>();
  const [receipt, setReceipt] = useState<Receipt & { format: OpenFormat }>();
  const [error, setError] = useState<Error>();
  const get = async (format: OpenFormat) => {
    setBusy(format);
    setError(undefined);
    try {
      const rc = await downloadOpen(r.id, r.code ?? "", format, grant?.id);
      setReceipt({ ...rc, format });
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(undefined);
    }
  };
  return (
    <section aria-labelledby={`dl-${grant?.id ?? "public"}`}>
      <Typography.Title level={3} style={{ fontSize: 16 }} id={`dl-${grant?.id ?? "public"}`}>
        {grant ? t("openData.grantDownloads") : t("openData.downloads")}
      </Typography.Title>
      {grant && (
        <Typography.Paragraph type="secondary">
          {t("openData.grantInfo", { fields: grant.fields.join("、"), expires: fmtDate(grant.expires_at) })}{" "}
          {grant.case_id && <Link to={`/console/cases/${grant.case_id}`}>{t("openData.viewCase")}</Link>}
        </Typography.Paragraph>
      )}
      <Space wrap>
        {OPEN_FORMATS.map((f) => (
          <Button
            key={f}
            type={f === "csv" ? "primary" : "default"}
            icon={<DownloadOutlined />}
            loading={busy === f}
            disabled={!!busy && busy !== f}
            onClick={() => get(f)}
            data-testid={`open-download-${f}`}
            aria-label={t("openData.downloadAs", { format: f.toUpperCase(), name: r.name })}
          >
            {f.toUpperCase()}
          </Button>
        ))}
      </Space>
      {error && (
        <div style={{ marginTop: 12 }} data-testid="open-download-error">
          <ErrorState error={error} />
        </div>
      )}
      {receipt && (
        <Alert
          style={{ marginTop: 12 }}
          type="info"
          showIcon
          role="status"
          data-testid="open-receipt"
          title={t("openData.received", { n: receipt.records, format: receipt.format.toUpperCase(), file: receipt.fileName })}
          description={
            <>
              <div>
                {t("openData.deliveryId")}: <span className="mono">{receipt.deliveryId}</span>
              </div>
              <div>
                SHA-256: <span className="mono">{receipt.sha256}</span>
              </div>
              {receipt.nextCursor && <div>{t("openData.morePages")}</div>}
            </>
          }
        />
      )}
    </section>
  );
}

/** OpenApiHint explains the rate limits and the free API key, with curl examples. */
function OpenApiHint({ r }: { r: Resource }) {
  const { t } = useLang();
  const url = window.location.origin + openDataPath(r.id);
  return (
    <section style={{ marginTop: 20 }}>
      <Typography.Title level={3} style={{ fontSize: 16 }}>
        {t("openData.apiTitle")}
      </Typography.Title>
      <Typography.Paragraph>
        {t("openData.rateLimit")} <Link to="/open#key">{t("openData.getKey")}</Link>
      </Typography.Paragraph>
      <CodeBlock title={t("openData.exCsv")} code={`curl -sOJ '${url}?format=csv'`} />
      <CodeBlock title={t("openData.exKey")} code={`curl -s -H 'X-Open-Key: <key>' '${url}?format=json&limit=100'`} />
    </section>
  );
}

const NUMERIC = new Set(["integer", "decimal"]);

function asNumber(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) ? v : undefined;
  if (typeof v === "string" && v.trim() !== "" && !Number.isNaN(Number(v))) return Number(v);
  return undefined;
}

/** OpenPreview shows the first rows and a chart of a numeric column by a category or time column. */
export function OpenPreview({ r, grant }: { r: Resource; grant?: OpenGrant }) {
  const { t } = useLang();
  const state = useAsync((signal) => previewOpen(r.id, PREVIEW_ROWS, signal, grant?.id), [r.id, grant?.id]);
  return (
    <Async state={state} isEmpty={(p) => p.rows.length === 0} empty={<Alert type="info" showIcon title={t("openData.noRows")} />}>
      {(p) => <PreviewBody r={r} page={p} />}
    </Async>
  );
}

function PreviewBody({ r, page }: { r: Resource; page: GatePage }) {
  const { t } = useLang();
  const byName = useMemo(() => new Map<string, Field>(r.fields.map((f) => [f.name, f])), [r.fields]);
  const labelOf = (n: string) => byName.get(n)?.label || n;
  const numeric = page.fields.filter((n) => {
    const f = byName.get(n);
    if (f && NUMERIC.has(f.type)) return true;
    return page.rows.every((row) => row[n] === null || row[n] === undefined || row[n] === "" || asNumber(row[n]) !== undefined) && page.rows.some((row) => asNumber(row[n]) !== undefined);
  });
  const categories = page.fields.filter((n) => !NUMERIC.has(byName.get(n)?.type ?? ""));
  // Defaults: a date column, else the category that groups the rows best
  // (fewest distinct values above one); a value typed as a number.
  const distinct = (n: string) => new Set(page.rows.map((row) => String(row[n] ?? ""))).size;
  const timeLike = categories.find((n) => ["date", "datetime"].includes(byName.get(n)?.type ?? ""));
  const grouping = [...categories].filter((n) => distinct(n) > 1).sort((a, b) => distinct(a) - distinct(b))[0];
  const defaultCat = timeLike ?? grouping ?? categories[0];
  const typed = numeric.filter((n) => NUMERIC.has(byName.get(n)?.type ?? "") && n !== defaultCat);
  const [cat, setCat] = useState<string | undefined>(defaultCat);
  const [num, setNum] = useState<string | undefined>(typed[0] ?? numeric.find((n) => n !== defaultCat) ?? numeric[0]);
  const [agg, setAgg] = useState<"sum" | "avg" | "count">(numeric.length ? "sum" : "count");

  const option = useMemo(() => {
    if (!cat) return undefined;
    const groups = new Map<string, { sum: number; n: number }>();
    for (const row of page.rows) {
      const k = row[cat] === null || row[cat] === undefined || row[cat] === "" ? "—" : String(row[cat]);
      const g = groups.get(k) ?? { sum: 0, n: 0 };
      const v = num ? asNumber(row[num]) : undefined;
      if (agg === "count") g.n++;
      else if (v !== undefined) {
        g.sum += v;
        g.n++;
      }
      groups.set(k, g);
    }
    let entries = [...groups.entries()].map(([k, g]) => [k, agg === "count" ? g.n : agg === "avg" ? (g.n ? g.sum / g.n : 0) : g.sum] as [string, number]);
    const isTime = ["date", "datetime"].includes(byName.get(cat)?.type ?? "");
    entries = isTime ? entries.sort((a, b) => a[0].localeCompare(b[0])) : entries.sort((a, b) => b[1] - a[1]).slice(0, 20);
    return {
      tooltip: { trigger: "axis" },
      grid: { left: 56, right: 16, top: 24, bottom: 80 },
      xAxis: { type: "category", data: entries.map((e) => e[0]), axisLabel: { rotate: 40, interval: 0, fontSize: 11 } },
      yAxis: { type: "value" },
      series: [{ type: "bar", name: agg === "count" ? t("openData.aggCount") : labelOf(num ?? ""), data: entries.map((e) => Math.round(e[1] * 100) / 100), itemStyle: { color: "#1458d6" } }],
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [cat, num, agg, page, t]);

  const columns = page.fields.map((n) => ({
    title: labelOf(n),
    dataIndex: n,
    key: n,
    ellipsis: true,
    render: (v: unknown) => (v === null || v === undefined || v === "" ? "—" : typeof v === "object" ? JSON.stringify(v) : String(v)),
  }));
  const chartLabel = cat ? t("openData.chartLabel", { y: agg === "count" ? t("openData.aggCount") : labelOf(num ?? ""), x: labelOf(cat) }) : "";
  return (
    <>
      <Typography.Paragraph type="secondary" data-testid="preview-note">
        {t("openData.previewNote", { n: page.rows.length })}
      </Typography.Paragraph>
      <Table
        rowKey={(_, i) => String(i)}
        size="small"
        columns={columns}
        dataSource={page.rows}
        pagination={{ pageSize: 10, showSizeChanger: false }}
        scroll={{ x: Math.max(600, page.fields.length * 140) }}
        data-testid="preview-table"
      />
      <Card size="small" title={<h3 className="card-h">{t("openData.chart")}</h3>} style={{ marginTop: 16 }}>
        <Form layout="inline" style={{ rowGap: 8, marginBottom: 12 }}>
          <Form.Item label={t("openData.chartX")} htmlFor="chart-x">
            <Select id="chart-x" style={{ minWidth: 160 }} value={cat} onChange={setCat} options={categories.concat(numeric.filter((n) => !categories.includes(n))).map((n) => ({ value: n, label: labelOf(n) }))} data-testid="chart-x" />
          </Form.Item>
          <Form.Item label={t("openData.chartAgg")} htmlFor="chart-agg">
            <Select
              id="chart-agg"
              style={{ minWidth: 110 }}
              value={agg}
              onChange={setAgg}
              options={[
                { value: "sum", label: t("openData.aggSum"), disabled: !numeric.length },
                { value: "avg", label: t("openData.aggAvg"), disabled: !numeric.length },
                { value: "count", label: t("openData.aggCount") },
              ]}
            />
          </Form.Item>
          {agg !== "count" && (
            <Form.Item label={t("openData.chartY")} htmlFor="chart-y">
              <Select id="chart-y" style={{ minWidth: 160 }} value={num} onChange={setNum} options={numeric.map((n) => ({ value: n, label: labelOf(n) }))} data-testid="chart-y" />
            </Form.Item>
          )}
        </Form>
        {option ? <Chart option={option} height={320} label={chartLabel} /> : <Typography.Text type="secondary">{t("openData.noChart")}</Typography.Text>}
      </Card>
    </>
  );
}

/** OpenApplyForm files a conditional open application (R-OPN-2). */
export function OpenApplyForm({ r }: { r: Resource }) {
  const { t } = useLang();
  const { me } = useAuth();
  const loc = useLocation();
  const nav = useNavigate();
  const { message } = App.useApp();
  const [form] = Form.useForm();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error>();
  const [filed, setFiled] = useState<Case>();
  if (!me)
    return (
      <Alert
        type="info"
        showIcon
        title={t("openData.applyLogin")}
        action={
          <Button type="primary" onClick={() => nav(`/login?next=${encodeURIComponent(loc.pathname + "?tab=open")}`)} data-testid="open-apply-login">
            {t("nav.login")}
          </Button>
        }
      />
    );
  if (me.org.id === r.org_id) return <Alert type="info" showIcon title={t("openData.ownData")} />;
  if (filed) {
    const a = filed.payload?.applicant as OpenApplicant | undefined;
    return (
      <Alert
        type="success"
        showIcon
        role="status"
        data-testid="open-apply-done"
        title={t("openData.applyDone")}
        description={
          <>
            {a && <div>{t("openData.applicantAs", { type: t(`openData.applicant.${a.type}`), name: a.name, credential: a.credential })}</div>}
            <Link to={`/console/cases/${filed.id}`} data-testid="open-apply-case">
              {t("openData.viewCase")}
            </Link>
          </>
        }
      />
    );
  }
  const submit = async (v: { scenario: string; fields: string[]; days?: number; commitments: string[] }) => {
    setBusy(true);
    setError(undefined);
    try {
      const has = (k: string) => v.commitments.includes(k);
      const c = await applyOpen({
        resource_id: r.id,
        scenario: v.scenario.trim(),
        fields: v.fields,
        days: v.days ?? undefined,
        commitments: { authenticity: has("authenticity"), compliance: has("compliance"), security: has("security"), no_third_party: has("no_third_party") },
      });
      setFiled(c);
      message.success(t("openData.applyDone"));
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };
  const commitments = ["authenticity", "compliance", "security", "no_third_party"];
  return (
    <Form form={form} name="open-apply" layout="vertical" onFinish={submit} initialValues={{ fields: [], commitments: [], days: 365 }} data-testid="open-apply-form" style={{ maxWidth: 720 }}>
      <Typography.Paragraph>{t("openData.applyIntro")}</Typography.Paragraph>
      <Descriptions size="small" column={1} bordered style={{ marginBottom: 16 }}>
        <Descriptions.Item label={t("openData.applicant")}>
          {me.org.name}
          {me.org.credit_code && <span className="mono"> · {me.org.credit_code}</span>}
          <div style={{ fontSize: 12, color: "#5b6b86" }}>{t("openData.applicantHelp")}</div>
        </Descriptions.Item>
      </Descriptions>
      <Form.Item name="scenario" label={t("openData.scenario")} rules={[{ required: true, whitespace: true, message: t("openData.scenarioRequired") }]} extra={t("openData.scenarioHelp")}>
        <Input.TextArea rows={3} maxLength={200} showCount data-testid="open-apply-scenario" />
      </Form.Item>
      <Form.Item name="fields" label={t("openData.fields")} rules={[{ required: true, type: "array", min: 1, message: t("openData.fieldsRequired") }]} extra={t("openData.fieldsHelp")}>
        <Checkbox.Group style={{ display: "flex", flexDirection: "column", gap: 4 }}>
          {r.fields.map((f) => (
            <Checkbox key={f.name} value={f.name}>
              {f.label}（{f.name}）{f.sensitive ? <Tag color="red" style={{ marginLeft: 6 }}>{t("field.sensitive")}</Tag> : f.personal ? <Tag color="purple" style={{ marginLeft: 6 }}>{t("field.personal")}</Tag> : null}
            </Checkbox>
          ))}
        </Checkbox.Group>
      </Form.Item>
      <Form.Item name="days" label={t("openData.days")} extra={t("openData.daysHelp")}>
        <InputNumber min={1} max={1095} precision={0} style={{ width: 160 }} data-testid="open-apply-days" />
      </Form.Item>
      <Form.Item
        name="commitments"
        label={t("openData.commitments")}
        rules={[
          {
            validator: (_, v: string[] = []) => (commitments.every((k) => v.includes(k)) ? Promise.resolve() : Promise.reject(new Error(t("openData.commitmentsRequired")))),
          },
        ]}
      >
        <Checkbox.Group style={{ display: "flex", flexDirection: "column", gap: 4 }}>
          {commitments.map((k) => (
            <Checkbox key={k} value={k} data-testid={`open-commit-${k}`}>
              {t(`openData.commit.${k}`)}
            </Checkbox>
          ))}
        </Checkbox.Group>
      </Form.Item>
      {error && (
        <div style={{ marginBottom: 12 }}>
          <ErrorState error={error} />
        </div>
      )}
      <Button type="primary" htmlType="submit" loading={busy} data-testid="open-apply-submit">
        {t("openData.applySubmit")}
      </Button>
    </Form>
  );
}

/** OpenRequestForm lets anyone ask for an entry to be opened (R-OPN-5). */
export function OpenRequestForm({ r }: { r: Resource }) {
  const { t } = useLang();
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const [error, setError] = useState<Error>();
  if (done) return <Alert type="success" showIcon role="status" title={t("openData.requestDone")} data-testid="open-request-done" />;
  return (
    <Form
      layout="vertical"
      style={{ maxWidth: 720 }}
      onFinish={async () => {
        setBusy(true);
        setError(undefined);
        try {
          await requestOpen(r.id, note.trim());
          setDone(true);
        } catch (e) {
          setError(e as Error);
        } finally {
          setBusy(false);
        }
      }}
    >
      <Typography.Paragraph>{t("openData.requestIntro")}</Typography.Paragraph>
      <Form.Item label={t("openData.requestNote")} htmlFor="open-request-note" extra={t("openData.requestNoteHelp")}>
        <Input.TextArea id="open-request-note" value={note} onChange={(e) => setNote(e.target.value)} rows={3} maxLength={500} showCount data-testid="open-request-note" />
      </Form.Item>
      {error && (
        <div style={{ marginBottom: 12 }}>
          <ErrorState error={error} />
        </div>
      )}
      <Button type="primary" htmlType="submit" loading={busy} data-testid="open-request-submit">
        {t("openData.requestSubmit")}
      </Button>
    </Form>
  );
}

/** OpenGrantDownloads shows the signed-in org's approved open grants on a conditional entry, each with downloads. */
function OpenGrantDownloads({ r }: { r: Resource }) {
  const { me } = useAuth();
  const { t } = useLang();
  const state = useAsync((signal) => (me ? myOpenGrants(r.id, me, signal) : Promise.resolve([])), [r.id, me?.org.id, me?.user_id]);
  if (!me) return null;
  return (
    <Async state={state} rows={1} isEmpty={(g) => g.length === 0} empty={<></>}>
      {(gs) => (
        <Card size="small" style={{ marginBottom: 16 }} data-testid="open-grants">
          <Alert type="success" showIcon title={t("openData.youHoldGrant")} style={{ marginBottom: 12 }} />
          {gs.map((g) => (
            <div key={g.id} style={{ marginBottom: 12 }}>
              <OpenDownloads r={r} grant={g} />
            </div>
          ))}
        </Card>
      )}
    </Async>
  );
}

/** OpenDataPanel is the resource page's open-data tab, by the entry's open attribute. */
export function OpenDataPanel({ r }: { r: Resource }) {
  const { t } = useLang();
  const attr = r.open.attr;
  const published = r.status === "published";
  const service = r.delivery.mode === "service";
  return (
    <Card>
      <OpenFreeNote />
      {!published ? (
        <Alert type="warning" showIcon title={t("openData.notPublished")} />
      ) : attr === "unconditional" ? (
        service ? (
          <Alert type="info" showIcon title={t("openData.serviceOnly")} />
        ) : (
          <>
            <OpenDownloads r={r} />
            <OpenApiHint r={r} />
          </>
        )
      ) : attr === "conditional" ? (
        <>
          {r.open.conditions && (
            <Alert type="warning" showIcon title={t("openData.conditionsTitle")} description={r.open.conditions} style={{ marginBottom: 16 }} />
          )}
          <OpenGrantDownloads r={r} />
          <Typography.Title level={3} style={{ fontSize: 16 }}>
            {t("openData.applyTitle")}
          </Typography.Title>
          <OpenApplyForm r={r} />
        </>
      ) : (
        <>
          <Alert
            type="info"
            showIcon
            title={t("openData.notOpen")}
            description={[r.open.basis && `${t("resource.basis")}: ${r.open.basis}`, r.open.reason && `${t("resource.reason")}: ${r.open.reason}`].filter(Boolean).join("；") || undefined}
            style={{ marginBottom: 16 }}
          />
          <Typography.Title level={3} style={{ fontSize: 16 }}>
            {t("openData.requestTitle")}
          </Typography.Title>
          <OpenRequestForm r={r} />
        </>
      )}
    </Card>
  );
}
