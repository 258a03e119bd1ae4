// Two sharing forms that open a case: a providing org's misuse report asking
// the authority to suspend or terminate a consumer's grant (R-SHR-10, FJ34),
// and a dispute over an entry's sharing attribute, consulted on with the
// provider and otherwise decided by the city government (R-SHR-6, XM26).
import { Alert, Form, Input, Modal, Radio, Typography } from "antd";
import { useState } from "react";
import { useNavigate } from "react-router-dom";
import type { Attr } from "../api";
import { useEnum, useLang } from "../i18n";
import { fileDispute, reportMisuse } from "../api/console";

export function MisuseDialog({ grant, onClose }: { grant: { id: string; resource_name?: string; grantee: string }; onClose: () => void }) {
  const { t } = useLang();
  const label = useEnum();
  const nav = useNavigate();
  const [form] = Form.useForm<{ measure: "suspend" | "terminate"; reason: string; evidence?: string }>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  return (
    <Modal
      open
      title={t("misuse.title")}
      okText={t("misuse.submit")}
      cancelText={t("action.cancel")}
      okButtonProps={{ danger: true, id: "misuse-submit" }}
      confirmLoading={busy}
      onCancel={onClose}
      onOk={() => form.submit()}
      destroyOnHidden
    >
      <Typography.Paragraph type="secondary">{t("misuse.how", { grantee: grant.grantee, resource: grant.resource_name ?? "" })}</Typography.Paragraph>
      {error && <Alert role="alert" type="error" showIcon title={error} style={{ marginBottom: 12 }} />}
      <Form
        form={form}
        layout="vertical"
        initialValues={{ measure: "suspend" }}
        onFinish={async (v) => {
          setBusy(true);
          setError(undefined);
          try {
            const c = await reportMisuse(grant.id, v.measure, v.reason.trim(), v.evidence?.trim() ?? "");
            nav(`/console/cases/${c.id}`);
          } catch (e) {
            setError((e as Error).message);
          } finally {
            setBusy(false);
          }
        }}
      >
        <Form.Item name="measure" label={t("misuse.measure")} rules={[{ required: true }]}>
          <Radio.Group
            options={(["suspend", "terminate"] as const).map((m) => ({ value: m, label: label("measure", m) }))}
            optionType="button"
          />
        </Form.Item>
        <Form.Item name="reason" label={t("misuse.reason")} rules={[{ required: true, whitespace: true, message: t("cform.required") }]}>
          <Input.TextArea rows={4} maxLength={5000} data-testid="misuse-reason" />
        </Form.Item>
        <Form.Item name="evidence" label={t("misuse.evidence")} extra={t("misuse.evidenceHint")}>
          <Input.TextArea rows={2} maxLength={5000} data-testid="misuse-evidence" />
        </Form.Item>
      </Form>
    </Modal>
  );
}

const ATTRS: Attr[] = ["unconditional", "conditional", "none"];

export function DisputeDialog({ resource, onClose }: { resource: { id: string; name: string; attr?: Attr }; onClose: () => void }) {
  const { t } = useLang();
  const label = useEnum();
  const nav = useNavigate();
  const [form] = Form.useForm<{ proposed: Attr; reason: string }>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  return (
    <Modal
      open
      title={t("dispute.title")}
      okText={t("dispute.submit")}
      cancelText={t("action.cancel")}
      okButtonProps={{ id: "dispute-submit" }}
      confirmLoading={busy}
      onCancel={onClose}
      onOk={() => form.submit()}
      destroyOnHidden
    >
      <Typography.Paragraph type="secondary">
        {t("dispute.how", { resource: resource.name, attr: resource.attr ? label("share", resource.attr) : "—" })}
      </Typography.Paragraph>
      {error && <Alert role="alert" type="error" showIcon title={error} style={{ marginBottom: 12 }} />}
      <Form
        form={form}
        layout="vertical"
        onFinish={async (v) => {
          setBusy(true);
          setError(undefined);
          try {
            const c = await fileDispute(resource.id, v.proposed, v.reason.trim());
            nav(`/console/cases/${c.id}`);
          } catch (e) {
            setError((e as Error).message);
          } finally {
            setBusy(false);
          }
        }}
      >
        <Form.Item name="proposed" label={t("dispute.proposed")} rules={[{ required: true, message: t("cform.required") }]}>
          <Radio.Group options={ATTRS.filter((a) => a !== resource.attr).map((a) => ({ value: a, label: label("share", a) }))} />
        </Form.Item>
        <Form.Item name="reason" label={t("dispute.reason")} extra={t("dispute.reasonHint")} rules={[{ required: true, whitespace: true, message: t("cform.required") }]}>
          <Input.TextArea rows={4} maxLength={5000} data-testid="dispute-reason" />
        </Form.Item>
      </Form>
    </Modal>
  );
}
