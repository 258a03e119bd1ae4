import { Alert, Checkbox, Form, Input, InputNumber, Modal, Typography } from "antd";
import { useState } from "react";
import { useNavigate } from "react-router-dom";
import { api, type Case, type Resource } from "../api";
import { useLang } from "../i18n";
import { useAsync } from "../lib/useAsync";

interface Commitment {
  zh: string;
  en: string;
  default_days: number;
  max_days: number;
}

interface Values {
  scenario: string;
  legal_duty?: string;
  fields: string[];
  days?: number;
  acknowledged?: boolean;
}

/**
 * ShareDialog asks for data an org may share: a conditional entry files a
 * share request (R-SHR-3, R-SHR-4: scenario, statutory duty, only the fields
 * needed, the commitment); an unconditional one is obtained at once (R-SHR-2).
 */
export function ShareDialog({ resource, open, onClose }: { resource: Resource; open: boolean; onClose: () => void }) {
  const { t, pick } = useLang();
  const nav = useNavigate();
  const [form] = Form.useForm<Values>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const conditional = resource.share.attr === "conditional";
  const commitment = useAsync((signal) => api<Commitment>("/api/v1/share/commitment", { signal }), []);
  const submit = async () => {
    const v = await form.validateFields();
    setBusy(true);
    setError(undefined);
    try {
      const body = { resource_id: resource.id, scenario: v.scenario.trim(), legal_duty: v.legal_duty?.trim() || undefined, fields: v.fields, days: v.days || undefined };
      if (conditional) {
        const c = await api<Case>("/api/v1/share/requests", { body: { ...body, acknowledged: !!v.acknowledged } });
        nav(`/console/cases/${c.id}`);
      } else {
        await api("/api/v1/share/grants", { body });
        nav("/console/grants?view=consumer");
      }
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal
      open={open}
      title={conditional ? t("shareReq.title") : t("shareReq.obtainTitle")}
      okText={conditional ? t("shareReq.submit") : t("shareReq.obtain")}
      cancelText={t("action.cancel")}
      onOk={submit}
      onCancel={onClose}
      confirmLoading={busy}
      destroyOnHidden
      okButtonProps={{ id: "share-submit" }}
      width={640}
    >
      <Typography.Paragraph type="secondary">{conditional ? t("shareReq.hint") : t("shareReq.obtainHint")}</Typography.Paragraph>
      {resource.share.conditions && (
        <Alert type="info" showIcon style={{ marginBottom: 12 }} title={`${t("resource.conditions")}: ${resource.share.conditions}`} />
      )}
      {error && <Alert role="alert" type="error" showIcon title={error} style={{ marginBottom: 12 }} />}
      <Form form={form} layout="vertical" initialValues={{ fields: [] }}>
        <Form.Item name="scenario" label={t("payload.scenario")} rules={[{ required: true, whitespace: true }]} extra={t("shareReq.scenarioHint")}>
          <Input maxLength={500} data-testid="share-scenario" />
        </Form.Item>
        <Form.Item name="legal_duty" label={t("payload.legal_duty")} rules={[{ required: conditional, whitespace: true }]}>
          <Input maxLength={500} data-testid="share-duty" />
        </Form.Item>
        <Form.Item name="fields" label={t("shareReq.fields")} rules={[{ required: true, type: "array", min: 1, message: t("shareReq.fieldsRequired") }]}>
          <Checkbox.Group
            options={resource.fields.map((f) => ({ value: f.name, label: `${f.label}（${f.name}）` }))}
            style={{ display: "flex", flexDirection: "column", gap: 4 }}
          />
        </Form.Item>
        <Form.Item name="days" label={t("payload.days")} extra={commitment.data && t("shareReq.daysHint", { d: commitment.data.default_days, max: commitment.data.max_days })}>
          <InputNumber min={1} max={commitment.data?.max_days ?? 3650} />
        </Form.Item>
        {conditional && (
          <>
            <Typography.Paragraph style={{ background: "#f6f8fc", padding: 12, borderRadius: 6, fontSize: 13 }}>
              {commitment.data ? pick(commitment.data.zh, commitment.data.en) : t("state.loading")}
            </Typography.Paragraph>
            <Form.Item
              name="acknowledged"
              valuePropName="checked"
              rules={[{ validator: (_, v) => (v ? Promise.resolve() : Promise.reject(new Error(t("shareReq.ackRequired")))) }]}
            >
              <Checkbox data-testid="share-ack">{t("shareReq.ack")}</Checkbox>
            </Form.Item>
          </>
        )}
      </Form>
    </Modal>
  );
}
