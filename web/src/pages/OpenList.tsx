// /open — the open catalog (开放数据目录, R-OPN-1): every entry open
// unconditionally or on application, with free downloads, the bulk catalog,
// and a free API key (R-DEV-6).
import { Alert, App, Button, Card, Form, Grid, Input, List, Segmented, Space, Table, Tag, Typography } from "antd";
import { DownloadOutlined, KeyOutlined } from "@ant-design/icons";
import { useEffect, useMemo, useState } from "react";
import { Link, useLocation, useSearchParams } from "react-router-dom";
import { api } from "../api";
import { downloadOpen, issueOpenKey, OPEN_FORMATS, type OpenKey, type OpenListing } from "../api/open";
import { useEnum, useLang } from "../i18n";
import { useAsync } from "../lib/useAsync";
import { fmtDate } from "../lib/format";
import { Async, ErrorState } from "../components/Async";
import { CodeBlock } from "../components/CodeBlock";
import { OpenFreeNote } from "../components/OpenResource";

type AttrFilter = "all" | "unconditional" | "conditional";

function RowDownloads({ l }: { l: OpenListing }) {
  const { t } = useLang();
  const { message } = App.useApp();
  const [busy, setBusy] = useState<string>();
  if (l.open !== "unconditional" || !l.downloads)
    return (
      <Link to={`/catalog/${l.id}?tab=open`} aria-label={t("openList.applyFor", { name: l.name })}>
        {t("openList.apply")}
      </Link>
    );
  return (
    <Space size={4} wrap>
      {OPEN_FORMATS.filter((f) => l.downloads?.[f]).map((f) => (
        <Button
          key={f}
          size="small"
          icon={<DownloadOutlined />}
          loading={busy === f}
          aria-label={t("openData.downloadAs", { format: f.toUpperCase(), name: l.name })}
          onClick={async () => {
            setBusy(f);
            try {
              const rc = await downloadOpen(l.id, l.code, f);
              message.success(t("openData.received", { n: rc.records, format: f.toUpperCase(), file: rc.fileName }));
            } catch (e) {
              message.error((e as Error).message);
            } finally {
              setBusy(undefined);
            }
          }}
        >
          {f.toUpperCase()}
        </Button>
      ))}
    </Space>
  );
}

/** KeyRequest issues a free API key and shows it once. */
function KeyRequest() {
  const { t } = useLang();
  const [name, setName] = useState("");
  const [contact, setContact] = useState("");
  const [busy, setBusy] = useState(false);
  const [key, setKey] = useState<OpenKey>();
  const [error, setError] = useState<Error>();
  const origin = window.location.origin;
  return (
    <Card id="key" title={<h2 className="card-h"><KeyOutlined /> {t("openList.keyTitle")}</h2>} style={{ marginBottom: 16 }}>
      <Typography.Paragraph>{t("openList.keyIntro")}</Typography.Paragraph>
      {key?.key ? (
        <Alert
          type="success"
          showIcon
          role="status"
          data-testid="open-key-issued"
          title={t("openList.keyIssued", { name: key.name })}
          description={
            <>
              <Typography.Paragraph strong style={{ marginBottom: 8 }}>
                {t("openList.keyOnce")}
              </Typography.Paragraph>
              <Typography.Text code copyable={{ text: key.key, tooltips: [t("action.copy"), t("action.copied")] }} className="mono" data-testid="open-key-value">
                {key.key}
              </Typography.Text>
              <div style={{ marginTop: 12 }}>
                <CodeBlock title={t("openData.exKey")} code={`curl -s -H 'X-Open-Key: ${key.key}' '${origin}/api/v1/open/catalog'`} />
              </div>
            </>
          }
        />
      ) : (
        <Form
          layout="vertical"
          style={{ maxWidth: 520 }}
          onFinish={async () => {
            setBusy(true);
            setError(undefined);
            try {
              setKey(await issueOpenKey(name.trim(), contact.trim()));
            } catch (e) {
              setError(e as Error);
            } finally {
              setBusy(false);
            }
          }}
        >
          <Form.Item label={t("openList.keyName")} htmlFor="key-name" required extra={t("openList.keyNameHelp")}>
            <Input id="key-name" value={name} onChange={(e) => setName(e.target.value)} maxLength={100} data-testid="open-key-name" />
          </Form.Item>
          <Form.Item label={t("openList.keyContact")} htmlFor="key-contact">
            <Input id="key-contact" value={contact} onChange={(e) => setContact(e.target.value)} maxLength={200} />
          </Form.Item>
          {error && (
            <div style={{ marginBottom: 12 }}>
              <ErrorState error={error} />
            </div>
          )}
          <Button type="primary" htmlType="submit" loading={busy} disabled={!name.trim()} data-testid="open-key-submit">
            {t("openList.keySubmit")}
          </Button>
        </Form>
      )}
    </Card>
  );
}

export function OpenList() {
  const { t } = useLang();
  const label = useEnum();
  const loc = useLocation();
  const [params, setParams] = useSearchParams();
  const attr = (params.get("open") as AttrFilter) || "all";
  const q = params.get("q") ?? "";
  const page = Number(params.get("page") ?? 1) || 1;
  const [text, setText] = useState(q);
  const narrow = !Grid.useBreakpoint().md;
  const state = useAsync((signal) => api<{ count: number; items: OpenListing[] }>("/api/v1/open/catalog", { query: { format: "json" }, signal }), []);
  const set = (k: string, v: string) =>
    setParams(
      (p) => {
        if (v && v !== "all") p.set(k, v);
        else p.delete(k);
        if (k !== "page") p.delete("page");
        return p;
      },
      { replace: k !== "page" },
    );
  useEffect(() => {
    if (loc.hash === "#key") document.getElementById("key")?.scrollIntoView();
  }, [loc.hash, state.data]);
  const items = useMemo(() => {
    const all = state.data?.items ?? [];
    const needle = q.trim().toLowerCase();
    return all.filter((l) => (attr === "all" || l.open === attr) && (!needle || `${l.name} ${l.org} ${l.code}`.toLowerCase().includes(needle)));
  }, [state.data, attr, q]);
  const counts = useMemo(() => {
    const all = state.data?.items ?? [];
    return { all: all.length, unconditional: all.filter((l) => l.open === "unconditional").length, conditional: all.filter((l) => l.open === "conditional").length };
  }, [state.data]);

  return (
    <>
      <div className="page-title">
        <h1>{t("openList.title")}</h1>
        <Space wrap>
          <a href="/api/v1/open/catalog?format=csv" download data-testid="open-bulk-csv">
            <Button icon={<DownloadOutlined />}>{t("openList.bulkCsv")}</Button>
          </a>
          <a href="/api/v1/open/catalog?format=json" target="_blank" rel="noreferrer">
            <Button icon={<DownloadOutlined />}>{t("openList.bulkJson")}</Button>
          </a>
        </Space>
      </div>
      <Typography.Paragraph>{t("openList.intro")}</Typography.Paragraph>
      <OpenFreeNote />
      <Card style={{ marginBottom: 16 }}>
        <Space wrap style={{ marginBottom: 12 }}>
          <Segmented<AttrFilter>
            value={attr}
            onChange={(v) => set("open", v)}
            options={[
              { value: "all", label: `${t("openList.all")} ${counts.all}` },
              { value: "unconditional", label: `${label("open", "unconditional")} ${counts.unconditional}` },
              { value: "conditional", label: `${label("open", "conditional")} ${counts.conditional}` },
            ]}
            aria-label={t("openList.filterAttr")}
            data-testid="open-filter"
            style={{ maxWidth: "100%", overflowX: "auto" }}
          />
          <Input.Search
            value={text}
            onChange={(e) => setText(e.target.value)}
            onSearch={(v) => set("q", v.trim())}
            allowClear
            placeholder={t("openList.search")}
            aria-label={t("openList.search")}
            style={{ width: 280, maxWidth: "100%" }}
            data-testid="open-search"
          />
        </Space>
        <Async state={state} rows={8}>
          {() =>
            narrow ? (
              <List<OpenListing>
                dataSource={items}
                data-testid="open-table"
                locale={{ emptyText: t("openList.none") }}
                pagination={{ current: page, pageSize: 20, total: items.length, size: "small", showSizeChanger: false, onChange: (p) => set("page", String(p)) }}
                renderItem={(l) => (
                  <List.Item key={l.id} style={{ display: "block" }}>
                    <Link to={`/catalog/${l.id}`} data-testid="open-link" style={{ fontWeight: 600 }}>
                      {l.name}
                    </Link>
                    <div style={{ margin: "4px 0", color: "#5b6b86", fontSize: 13 }}>
                      <Tag color={l.open === "unconditional" ? "blue" : "gold"}>{label("open", l.open)}</Tag>
                      {l.org} · {label("frequency", l.frequency)}
                    </div>
                    <RowDownloads l={l} />
                  </List.Item>
                )}
              />
            ) : (
            <Table<OpenListing>
              rowKey="id"
              size="middle"
              dataSource={items}
              data-testid="open-table"
              locale={{ emptyText: t("openList.none") }}
              scroll={{ x: 860 }}
              pagination={{
                current: page,
                pageSize: 20,
                showSizeChanger: false,
                total: items.length,
                showTotal: (n) => t("openList.total", { n }),
                onChange: (p) => set("page", String(p)),
              }}
              columns={[
                {
                  title: t("openList.name"),
                  key: "name",
                  render: (_, l) => (
                    <Space direction="vertical" size={0}>
                      <Link to={`/catalog/${l.id}`} data-testid="open-link">
                        {l.name}
                      </Link>
                      <Typography.Text type="secondary" className="mono" style={{ fontSize: 12 }}>
                        {l.code}
                      </Typography.Text>
                    </Space>
                  ),
                },
                { title: t("openList.org"), dataIndex: "org", key: "org", width: 200 },
                {
                  title: t("openList.attr"),
                  key: "open",
                  width: 120,
                  render: (_, l) => <Tag color={l.open === "unconditional" ? "blue" : "gold"}>{label("open", l.open)}</Tag>,
                },
                { title: t("openList.frequency"), key: "frequency", width: 100, render: (_, l) => label("frequency", l.frequency) },
                { title: t("openList.updated"), key: "updated", width: 110, render: (_, l) => fmtDate(l.data_updated_at) },
                { title: t("openList.get"), key: "get", width: 230, render: (_, l) => <RowDownloads l={l} /> },
              ]}
            />
            )
          }
        </Async>
      </Card>
      <KeyRequest />
    </>
  );
}
