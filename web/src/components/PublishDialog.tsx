import { Alert, Checkbox, Form, Input, Modal, App } from "antd";
import { useState } from "react";
import { api, ApiError, type PublishResult } from "../api";
import { useLang } from "../i18n";

/** PublishDialog publishes a draft with a reason (R-CAT-3), acknowledging breaking changes when needed. */
export function PublishDialog({
  resourceId,
  rev,
  breaking,
  open,
  onClose,
  onDone,
}: {
  resourceId: string;
  rev?: number;
  breaking?: boolean;
  open: boolean;
  onClose: () => void;
  onDone: (r: PublishResult) => void;
}) {
  const { t } = useLang();
  const { message } = App.useApp();
  const [form] = Form.useForm<{ reason: string; ack: boolean }>();
  const [error, setError] = useState<string>();
  const [needAck, setNeedAck] = useState(!!breaking);
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    const v = await form.validateFields();
    setBusy(true);
    setError(undefined);
    try {
      const r = await api<PublishResult>(`/api/v1/catalog/resources/${resourceId}/publish`, {
        body: { reason: v.reason.trim(), acknowledge_breaking: !!v.ack, rev: rev ?? 0 },
      });
      message.success(r.review_case_id ? t("publish.sentForReview") : t("publish.done", { version: r.resource.version ?? "" }));
      form.resetFields();
      onDone(r);
    } catch (e) {
      if (e instanceof ApiError && e.code === "catalog.breaking_change") setNeedAck(true);
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal
      open={open}
      title={t("publish.title")}
      okText={t("action.publish")}
      cancelText={t("action.cancel")}
      onOk={submit}
      confirmLoading={busy}
      onCancel={onClose}
      destroyOnHidden
      okButtonProps={{ id: "publish-confirm" }}
    >
      {error && <Alert role="alert" type="error" showIcon title={error} style={{ marginBottom: 12 }} />}
      <Form form={form} layout="vertical">
        <Form.Item name="reason" label={t("publish.reason")} rules={[{ required: true, whitespace: true, message: t("publish.reasonRequired") }]}>
          <Input.TextArea rows={3} maxLength={1000} showCount data-testid="publish-reason" />
        </Form.Item>
        {needAck && (
          <Form.Item name="ack" valuePropName="checked" rules={[{ validator: (_, v) => (v ? Promise.resolve() : Promise.reject(new Error(t("publish.ackRequired")))) }]}>
            <Checkbox>{t("publish.ackBreaking")}</Checkbox>
          </Form.Item>
        )}
      </Form>
    </Modal>
  );
}
