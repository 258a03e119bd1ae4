// The objection form (数据异议, R-QLT-2) on every resource page: a signed-in
// user names a record by its key, the data item that is wrong, what is wrong
// and the evidence; it files an `objection` case to the providing org.
import { Alert, App, Button, Form, Input, Select, Space, Typography } from "antd";
import { DeleteOutlined, PlusOutlined } from "@ant-design/icons";
import { useEffect, useState } from "react";
import { Link, useLocation, useNavigate } from "react-router-dom";
import { api, ApiError, type Case, type Resource } from "../api";
import { useAuth } from "../auth";
import { useLang } from "../i18n";
import { ErrorState } from "./Async";

interface KeyPart {
  field?: string;
  value?: string;
}

/** keyFieldsIn picks the entry's field names that the server's "give the key fields …" message names. */
function keyFieldsIn(msg: string, names: string[]): string[] {
  return names.filter((n) => new RegExp(`(^|[^A-Za-z0-9_])${n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}([^A-Za-z0-9_]|$)`).test(msg));
}

export function OpenObjectionForm({ r }: { r: Resource }) {
  const { t } = useLang();
  const { me } = useAuth();
  const loc = useLocation();
  const nav = useNavigate();
  const { message } = App.useApp();
  const [form] = Form.useForm();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error>();
  const [filed, setFiled] = useState<Case>();
  const fieldOptions = r.fields.map((f) => ({ value: f.name, label: `${f.label}（${f.name}）` }));
  // The dataset's record key (public): the form asks for exactly those
  // data items. Without it (no dataset yet), the person picks them, and the
  // server's answer names the key if they pick wrong.
  useEffect(() => {
    if (!me) return;
    const ctl = new AbortController();
    api<{ key: string[] }>(`/api/v1/ingest/datasets/${encodeURIComponent(r.id)}/record-key`, { signal: ctl.signal })
      .then((k) => {
        const cur: KeyPart[] = form.getFieldValue("key") ?? [];
        if (k.key?.length && cur.every((p) => !p.field && !p.value)) form.setFieldValue("key", k.key.map((field) => ({ field, value: "" })));
      })
      .catch(() => undefined);
    return () => ctl.abort();
  }, [r.id, me, form]);

  if (!me)
    return (
      <Alert
        type="info"
        showIcon
        title={t("objection.login")}
        action={
          <Button type="primary" onClick={() => nav(`/login?next=${encodeURIComponent(loc.pathname + "?tab=objection")}`)}>
            {t("nav.login")}
          </Button>
        }
      />
    );
  if (filed)
    return (
      <Alert
        type="success"
        showIcon
        role="status"
        data-testid="objection-done"
        title={t("objection.done")}
        description={<Link to={`/console/cases/${filed.id}`}>{t("openData.viewCase")}</Link>}
      />
    );

  const submit = async (v: { title: string; key: KeyPart[]; field: string; problem: string; proposed?: string; evidence?: string }) => {
    setBusy(true);
    setError(undefined);
    try {
      const key: Record<string, string> = {};
      for (const k of v.key ?? []) if (k.field) key[k.field] = (k.value ?? "").trim();
      const c = await api<Case>("/api/v1/cases", {
        body: {
          kind: "objection",
          title: v.title.trim(),
          target: { type: "resource", id: r.code || r.id },
          payload: { key, field: v.field, problem: v.problem.trim(), proposed: v.proposed?.trim() || undefined, evidence: v.evidence?.trim() || undefined },
        },
      });
      setFiled(c);
      message.success(t("objection.done"));
    } catch (e) {
      // The record key the dataset expects: the server's message names its fields.
      if (e instanceof ApiError && e.code === "ingest.bad_record_key") {
        const names = keyFieldsIn(e.message, r.fields.map((f) => f.name));
        if (names.length) {
          const prev: KeyPart[] = form.getFieldValue("key") ?? [];
          form.setFieldValue("key", names.map((n) => ({ field: n, value: prev.find((p) => p.field === n)?.value ?? "" })));
        }
      }
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Form form={form} name="objection" layout="vertical" onFinish={submit} initialValues={{ key: [{}] }} style={{ maxWidth: 720 }} data-testid="objection-form">
      <Typography.Paragraph>{t("objection.intro")}</Typography.Paragraph>
      <Form.Item name="title" label={t("objection.title")} rules={[{ required: true, whitespace: true, message: t("objection.titleRequired") }]}>
        <Input maxLength={200} data-testid="objection-title" />
      </Form.Item>
      <Typography.Text strong>{t("objection.key")}</Typography.Text>
      <Typography.Paragraph type="secondary" style={{ marginBottom: 8 }}>
        {t("objection.keyHelp")}
      </Typography.Paragraph>
      <Form.List name="key">
        {(items, { add, remove }) => (
          <>
            {items.map((it, i) => (
              <Space key={it.key} align="baseline" wrap style={{ display: "flex", marginBottom: 4 }}>
                <Form.Item name={[it.name, "field"]} rules={[{ required: true, message: t("objection.keyFieldRequired") }]} style={{ marginBottom: 8 }}>
                  <Select options={fieldOptions} showSearch optionFilterProp="label" style={{ minWidth: 200 }} placeholder={t("objection.keyField")} aria-label={t("objection.keyFieldN", { n: i + 1 })} />
                </Form.Item>
                <Form.Item name={[it.name, "value"]} rules={[{ required: true, whitespace: true, message: t("objection.keyValueRequired") }]} style={{ marginBottom: 8 }}>
                  <Input placeholder={t("objection.keyValue")} aria-label={t("objection.keyValueN", { n: i + 1 })} style={{ minWidth: 180 }} />
                </Form.Item>
                {items.length > 1 && <Button type="text" icon={<DeleteOutlined />} onClick={() => remove(it.name)} aria-label={t("objection.removeKey", { n: i + 1 })} />}
              </Space>
            ))}
            <Button type="dashed" icon={<PlusOutlined />} onClick={() => add({})} style={{ marginBottom: 16 }}>
              {t("objection.addKey")}
            </Button>
          </>
        )}
      </Form.List>
      <Form.Item name="field" label={t("objection.field")} rules={[{ required: true, message: t("objection.fieldRequired") }]}>
        <Select options={fieldOptions} showSearch optionFilterProp="label" data-testid="objection-field" />
      </Form.Item>
      <Form.Item name="problem" label={t("objection.problem")} rules={[{ required: true, whitespace: true, message: t("objection.problemRequired") }]}>
        <Input.TextArea rows={3} maxLength={2000} showCount data-testid="objection-problem" />
      </Form.Item>
      <Form.Item name="proposed" label={t("objection.proposed")}>
        <Input maxLength={1000} />
      </Form.Item>
      <Form.Item name="evidence" label={t("objection.evidence")} extra={t("objection.evidenceHelp")}>
        <Input.TextArea rows={2} maxLength={5000} />
      </Form.Item>
      {error && (
        <div style={{ marginBottom: 12 }} data-testid="objection-error">
          <ErrorState error={error} />
        </div>
      )}
      <Button type="primary" htmlType="submit" loading={busy} data-testid="objection-submit">
        {t("objection.submit")}
      </Button>
    </Form>
  );
}
