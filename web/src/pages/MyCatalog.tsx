import { Alert, App, Button, Form, Input, Modal, Space, Switch, Table, Tabs, Tag, Typography, Upload } from "antd";
import { DownloadOutlined, PlusOutlined, UploadOutlined } from "@ant-design/icons";
import { useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router-dom";
import { api, type ImportResult, type Page, type Resource } from "../api";
import { useAuth } from "../auth";
import { useEnum, useLang } from "../i18n";
import { useAsync } from "../lib/useAsync";
import { Async } from "../components/Async";
import { PublishDialog } from "../components/PublishDialog";
import { CursorPager, useCursor } from "../components/CursorPager";
import { fmtTime } from "../lib/format";

const XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

export function MyCatalog() {
  const { t } = useLang();
  const label = useEnum();
  const { me } = useAuth();
  const nav = useNavigate();
  const { modal, message } = App.useApp();
  const org = me?.org.id ?? "";
  const cur = useCursor();
  const [params, setParams] = useSearchParams();
  const status = params.get("status") ?? "draft";
  const state = useAsync(
    (signal) => api<Page<Resource>>("/api/v1/catalog/resources", { query: { org, status, limit: 20, cursor: cur.cursor }, signal }),
    [org, status, cur.cursor],
  );
  const [publishing, setPublishing] = useState<Resource>();
  const [importing, setImporting] = useState(false);

  const withdraw = (r: Resource) => {
    let reason = "";
    modal.confirm({
      title: t("catalog.withdrawTitle", { name: r.name }),
      content: <Input.TextArea aria-label={t("catalog.withdrawReason")} placeholder={t("catalog.withdrawReason")} onChange={(e) => (reason = e.target.value)} />,
      okText: t("action.withdraw"),
      cancelText: t("action.cancel"),
      okButtonProps: { danger: true },
      onOk: async () => {
        await api(`/api/v1/catalog/resources/${r.id}/withdraw`, { body: { reason } }).catch((e) => {
          message.error((e as Error).message);
          throw e;
        });
        message.success(t("catalog.withdrawn"));
        state.reload();
      },
    });
  };
  const discard = (r: Resource) =>
    modal.confirm({
      title: t("catalog.discardTitle", { name: r.name }),
      okText: t("action.discard"),
      cancelText: t("action.cancel"),
      okButtonProps: { danger: true },
      onOk: async () => {
        await api(`/api/v1/catalog/resources/${r.id}/draft`, { method: "DELETE" }).catch((e) => {
          message.error((e as Error).message);
          throw e;
        });
        state.reload();
      },
    });

  return (
    <>
      <div className="page-title">
        <h1>{t("console.catalog")}</h1>
        <Space wrap>
          <a href="/api/v1/catalog/template.xlsx" download>
            <Button icon={<DownloadOutlined />}>{t("catalog.template")}</Button>
          </a>
          <a href={`/api/v1/catalog/export.xlsx?org=${encodeURIComponent(org)}&status=draft`} download>
            <Button icon={<DownloadOutlined />}>{t("catalog.exportDrafts")}</Button>
          </a>
          <Button icon={<UploadOutlined />} onClick={() => setImporting(true)} data-testid="import-open">
            {t("catalog.import")}
          </Button>
          <Button type="primary" icon={<PlusOutlined />} onClick={() => nav("/console/catalog/new")} data-testid="new-entry">
            {t("catalog.new")}
          </Button>
        </Space>
      </div>
      <Tabs
        activeKey={status}
        onChange={(v) => {
          cur.reset();
          setParams({ status: v }, { replace: true });
        }}
        items={["draft", "published", "withdrawn", "any"].map((k) => ({ key: k, label: t(`catalog.tab.${k}`) }))}
      />
      <Async
        state={state}
        isEmpty={(p) => p.items.length === 0 && !cur.cursor}
        empty={<Alert type="info" showIcon title={status === "any" ? t("catalog.empty") : t("catalog.emptyTab")} />}
      >
        {(p) => (
          <>
            <Table<Resource>
              rowKey="id"
              dataSource={p.items}
              pagination={false}
              loading={state.loading}
              scroll={{ x: 900 }}
              columns={[
                {
                  title: t("resource.name"),
                  key: "name",
                  render: (_, r) => (
                    <Space direction="vertical" size={0}>
                      {r.status === "published" ? <Link to={`/catalog/${r.id}`}>{r.name}</Link> : <span>{r.name}</span>}
                      <Typography.Text type="secondary" className="mono" style={{ fontSize: 12 }}>
                        {r.code}
                      </Typography.Text>
                    </Space>
                  ),
                },
                {
                  title: t("resource.status"),
                  key: "status",
                  render: (_, r) => (
                    <Space size={2} wrap>
                      <Tag color={r.status === "published" ? "green" : r.status === "withdrawn" ? "default" : "processing"} data-testid={`status-${r.id}`}>
                        {label("status", r.status)}
                      </Tag>
                      {r.has_draft && r.status !== "draft" && <Tag color="processing">{t("catalog.hasDraft")}</Tag>}
                      {r.review_case_id && (
                        <Link to={`/console/cases/${r.review_case_id}`}>
                          <Tag color="gold">{t("catalog.inReview")}</Tag>
                        </Link>
                      )}
                    </Space>
                  ),
                },
                { title: t("resource.version"), dataIndex: "version", key: "v", render: (v?: string) => v ?? "—" },
                { title: t("resource.open"), key: "open", render: (_, r) => label("open", r.open.attr) },
                { title: t("resource.timeliness"), key: "tl", render: (_, r) => <Tag color={r.timeliness === "late" ? "red" : r.timeliness === "ok" ? "green" : "default"}>{label("timeliness", r.timeliness)}</Tag> },
                { title: t("common.updated"), dataIndex: "updated_at", key: "u", render: fmtTime },
                {
                  title: t("common.actions"),
                  key: "a",
                  render: (_, r) => (
                    <Space size={0} wrap>
                      <Button type="link" onClick={() => nav(`/console/catalog/${r.id}/edit`)} aria-label={t("catalog.editWhat", { name: r.name })}>
                        {t("action.edit")}
                      </Button>
                      {(r.has_draft || r.status === "draft") && !r.review_case_id && (
                        <Button type="link" onClick={() => setPublishing(r)} aria-label={t("catalog.publishWhat", { name: r.name })} data-testid={`publish-${r.id}`}>
                          {t("action.publish")}
                        </Button>
                      )}
                      {r.has_draft && r.status !== "draft" && (
                        <Button type="link" danger onClick={() => discard(r)}>
                          {t("action.discard")}
                        </Button>
                      )}
                      {r.status === "published" && (
                        <Button type="link" danger onClick={() => withdraw(r)}>
                          {t("action.withdraw")}
                        </Button>
                      )}
                    </Space>
                  ),
                },
              ]}
            />
            <CursorPager cur={cur} next={p.next_cursor} />
          </>
        )}
      </Async>
      {publishing && (
        <PublishDialog
          open
          resourceId={publishing.id}
          onClose={() => setPublishing(undefined)}
          onDone={() => {
            setPublishing(undefined);
            state.reload();
          }}
        />
      )}
      <ImportDialog open={importing} onClose={() => setImporting(false)} onDone={() => state.reload()} />
    </>
  );
}

function ImportDialog({ open, onClose, onDone }: { open: boolean; onClose: () => void; onDone: () => void }) {
  const { t } = useLang();
  const [file, setFile] = useState<File>();
  const [publish, setPublish] = useState(false);
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const [result, setResult] = useState<ImportResult>();
  const close = () => {
    setFile(undefined);
    setResult(undefined);
    setError(undefined);
    onClose();
  };
  return (
    <Modal
      open={open}
      title={t("catalog.import")}
      onCancel={close}
      okText={result ? t("action.close") : t("catalog.importRun")}
      cancelText={t("action.cancel")}
      confirmLoading={busy}
      okButtonProps={{ disabled: !result && (!file || (publish && !reason.trim())) }}
      onOk={async () => {
        if (result) return close();
        if (!file) return;
        setBusy(true);
        setError(undefined);
        try {
          const r = await api<ImportResult>("/api/v1/catalog/import", {
            method: "POST",
            raw: file,
            contentType: XLSX,
            query: publish ? { publish: "true", reason: reason.trim() } : undefined,
          });
          setResult(r);
          onDone();
        } catch (e) {
          setError((e as Error).message);
        } finally {
          setBusy(false);
        }
      }}
    >
      <Typography.Paragraph type="secondary">{t("catalog.importHint")}</Typography.Paragraph>
      {error && <Alert role="alert" type="error" showIcon title={error} style={{ marginBottom: 12 }} />}
      {result ? (
        <Alert
          type="success"
          showIcon
          title={t("catalog.importDone", { created: result.created, updated: result.updated, published: result.published })}
          description={
            result.drafts.some((d) => d.duplicates.length > 0) && (
              <>
                <div>{t("catalog.importDuplicates", { n: result.drafts.reduce((a, d) => a + d.duplicates.length, 0) })}</div>
                <ul style={{ maxHeight: 200, overflowY: "auto", margin: "4px 0 0", paddingLeft: 18 }}>
                  {result.drafts.flatMap((d) =>
                    d.duplicates.map((x) => (
                      <li key={d.resource_id + x.field + x.resource_id}>
                        {d.name}: {t("catalog.duplicateOf", { field: x.field, name: x.resource_name, org: x.org_name })}
                      </li>
                    )),
                  )}
                </ul>
              </>
            )
          }
        />
      ) : (
        <Form layout="vertical">
          <Form.Item label={t("catalog.importFile")}>
            <Upload
              accept=".xlsx"
              maxCount={1}
              beforeUpload={(f) => {
                setFile(f);
                return false;
              }}
              onRemove={() => setFile(undefined)}
            >
              <Button icon={<UploadOutlined />}>{t("catalog.chooseFile")}</Button>
            </Upload>
          </Form.Item>
          <Form.Item label={t("catalog.importPublish")}>
            <Switch checked={publish} onChange={setPublish} aria-label={t("catalog.importPublish")} />
          </Form.Item>
          {publish && (
            <Form.Item label={t("publish.reason")} required>
              <Input.TextArea value={reason} onChange={(e) => setReason(e.target.value)} rows={2} />
            </Form.Item>
          )}
        </Form>
      )}
    </Modal>
  );
}
