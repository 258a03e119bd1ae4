import { Alert, App, Button, Card, Form, Input, InputNumber, Modal, Select, Space, Table, Tag, Typography } from "antd";
import { PlusOutlined } from "@ant-design/icons";
import { useState } from "react";
import { api, type Client, type Page, type Token } from "../api";
import { useAuth } from "../auth";
import { useEnum, useLang } from "../i18n";
import { useAsync } from "../lib/useAsync";
import { Async } from "../components/Async";
import { CodeBlock } from "../components/CodeBlock";
import { fmtDate, fmtTime } from "../lib/format";

const SCOPES = ["api:read", "api:write"];

function Tokens({ client }: { client: Client }) {
  const { t } = useLang();
  const { message, modal } = App.useApp();
  const state = useAsync((signal) => api<Page<Token>>(`/api/v1/clients/${client.id}/tokens`, { signal }), [client.id]);
  const [issuing, setIssuing] = useState(false);
  const [issued, setIssued] = useState<Token>();
  const [form] = Form.useForm<{ scopes: string[]; ttl_days: number }>();
  return (
    <div style={{ padding: "8px 0" }}>
      <Space style={{ marginBottom: 8 }}>
        <Typography.Text strong>{t("clients.tokens")}</Typography.Text>
        <Button size="small" icon={<PlusOutlined />} onClick={() => setIssuing(true)}>
          {t("clients.issue")}
        </Button>
      </Space>
      <Async state={state} isEmpty={(p) => p.items.length === 0} empty={<Typography.Text type="secondary">{t("clients.noTokens")}</Typography.Text>} rows={2}>
        {(p) => (
          <Table<Token>
            size="small"
            rowKey="id"
            pagination={p.items.length > 10 ? { pageSize: 10 } : false}
            dataSource={p.items}
            columns={[
              { title: "ID", dataIndex: "id", key: "id", render: (v: string) => <span className="mono">{v.slice(0, 13)}…</span> },
              { title: t("clients.scopes"), key: "s", render: (_, x) => x.scopes.map((s) => <Tag key={s}>{s}</Tag>) },
              { title: t("clients.expires"), dataIndex: "expires_at", key: "e", render: fmtDate },
              {
                title: t("resource.status"),
                key: "st",
                render: (_, x) =>
                  x.revoked_at ? <Tag>{t("clients.revoked")}</Tag> : Date.parse(x.expires_at) < Date.now() ? <Tag>{t("clients.expired")}</Tag> : <Tag color="green">{t("clients.active")}</Tag>,
              },
              {
                title: t("common.actions"),
                key: "a",
                render: (_, x) =>
                  !x.revoked_at && (
                    <Button
                      type="link"
                      danger
                      onClick={() =>
                        modal.confirm({
                          title: t("clients.revokeConfirm"),
                          okText: t("clients.revoke"),
                          cancelText: t("action.cancel"),
                          okButtonProps: { danger: true },
                          onOk: async () => {
                            await api(`/api/v1/tokens/${x.id}/revoke`, { method: "POST" }).catch((e) => {
                              message.error((e as Error).message);
                              throw e;
                            });
                            state.reload();
                          },
                        })
                      }
                    >
                      {t("clients.revoke")}
                    </Button>
                  ),
              },
            ]}
          />
        )}
      </Async>
      <Modal
        open={issuing}
        title={t("clients.issueFor", { name: client.name })}
        okText={t("clients.issue")}
        cancelText={t("action.cancel")}
        destroyOnHidden
        onCancel={() => setIssuing(false)}
        onOk={async () => {
          const v = await form.validateFields();
          try {
            const tok = await api<Token>(`/api/v1/clients/${client.id}/tokens`, { body: { scopes: v.scopes, ttl_days: v.ttl_days ?? 0 } });
            setIssuing(false);
            setIssued(tok);
            state.reload();
          } catch (e) {
            message.error((e as Error).message);
          }
        }}
      >
        <Form form={form} layout="vertical" initialValues={{ scopes: client.scopes, ttl_days: 90 }}>
          <Form.Item name="scopes" label={t("clients.scopes")}>
            <Select mode="multiple" options={client.scopes.map((s) => ({ value: s, label: s }))} />
          </Form.Item>
          <Form.Item name="ttl_days" label={t("clients.ttl")}>
            <InputNumber min={1} max={366} />
          </Form.Item>
        </Form>
      </Modal>
      <Modal open={!!issued} title={t("clients.issuedTitle")} onOk={() => setIssued(undefined)} onCancel={() => setIssued(undefined)} cancelButtonProps={{ style: { display: "none" } }} okText={t("action.close")}>
        <Alert type="warning" showIcon title={t("clients.shownOnce")} style={{ marginBottom: 12 }} />
        {issued?.token && <CodeBlock title={t("clients.secret")} code={issued.token} />}
        {issued?.token && <CodeBlock title={t("clients.tryIt")} code={`curl -s -H 'Authorization: Bearer ${issued.token}' '${window.location.origin}/api/v1/me'`} />}
      </Modal>
    </div>
  );
}

export function Clients() {
  const { t } = useLang();
  const label = useEnum();
  const { me } = useAuth();
  const { message } = App.useApp();
  const org = me?.org.id ?? "";
  const state = useAsync((signal) => api<Page<Client>>(`/api/v1/orgs/${org}/clients`, { signal }), [org]);
  const [creating, setCreating] = useState(false);
  const [form] = Form.useForm<{ name: string; scopes: string[] }>();
  return (
    <>
      <div className="page-title">
        <h1>{t("console.clients")}</h1>
        <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)}>
          {t("clients.new")}
        </Button>
      </div>
      <Typography.Paragraph type="secondary">{t("clients.hint")}</Typography.Paragraph>
      <Card>
        <Async state={state} isEmpty={(p) => p.items.length === 0} empty={<Alert type="info" showIcon title={t("clients.empty")} />}>
          {(p) => (
            <Table<Client>
              rowKey="id"
              dataSource={p.items}
              pagination={p.items.length > 20 ? { pageSize: 20 } : false}
              scroll={{ x: 640 }}
              expandable={{ expandedRowRender: (c) => <Tokens client={c} />, expandRowByClick: false }}
              columns={[
                { title: t("clients.name"), dataIndex: "name", key: "n" },
                { title: t("clients.scopes"), key: "s", render: (_, c) => c.scopes.map((s) => <Tag key={s}>{s}</Tag>) },
                { title: t("clients.roles"), key: "r", render: (_, c) => c.roles.map((r) => <Tag key={r}>{label("role", r)}</Tag>) },
                { title: t("resource.status"), key: "d", render: (_, c) => (c.disabled ? <Tag>{t("clients.disabled")}</Tag> : <Tag color="green">{t("clients.active")}</Tag>) },
                { title: t("common.created"), dataIndex: "created_at", key: "c", render: fmtTime },
              ]}
            />
          )}
        </Async>
      </Card>
      <Modal
        open={creating}
        title={t("clients.new")}
        okText={t("action.create")}
        cancelText={t("action.cancel")}
        destroyOnHidden
        onCancel={() => setCreating(false)}
        onOk={async () => {
          const v = await form.validateFields();
          try {
            await api(`/api/v1/orgs/${org}/clients`, { body: { name: v.name.trim(), scopes: v.scopes } });
            setCreating(false);
            state.reload();
          } catch (e) {
            message.error((e as Error).message);
          }
        }}
      >
        <Form form={form} layout="vertical" initialValues={{ scopes: ["api:read"] }}>
          <Form.Item name="name" label={t("clients.name")} rules={[{ required: true, whitespace: true }]}>
            <Input maxLength={200} />
          </Form.Item>
          <Form.Item name="scopes" label={t("clients.scopes")}>
            <Select mode="multiple" options={SCOPES.map((s) => ({ value: s, label: s }))} />
          </Form.Item>
        </Form>
      </Modal>
    </>
  );
}
