// The complaint and report form (投诉举报, R-SEC-11, XM61): anyone signed in
// complains about how data is handled, optionally about an org or an entry
// (?org= or ?resource= prefill it). The authority's security officer
// answers within the deadline; only the complainant sees the case.
import { Alert, Button, Card, DatePicker, Form, Input, Result, Select, Space, Typography } from "antd";
import { useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import type { Dayjs } from "dayjs";
import { api, type Case, type Resource } from "../api";
import { useEnum, useLang } from "../i18n";
import { useAsync } from "../lib/useAsync";
import { loadOrgs } from "../lib/shared";
import { COMPLAINT_CATEGORIES, fileComplaint } from "../api/console";

interface Values {
  title: string;
  category: string;
  description: string;
  occurred_on?: Dayjs | null;
  contact?: string;
  org?: string;
}

export function Complaint() {
  const { t, lang } = useLang();
  const label = useEnum();
  const [params] = useSearchParams();
  const resourceID = params.get("resource") ?? "";
  const [filed, setFiled] = useState<Case>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const orgs = useAsync(() => loadOrgs(), []);
  const res = useAsync((signal) => (resourceID ? api<Resource>(`/api/v1/catalog/resources/${encodeURIComponent(resourceID)}`, { signal }) : Promise.resolve(undefined)), [resourceID]);
  if (filed)
    return (
      <Card style={{ maxWidth: 760, margin: "0 auto" }}>
        <Result
          status="success"
          title={<span data-testid="complaint-filed">{t("complaint.filed")}</span>}
          subTitle={t("complaint.filedHow", { id: filed.id })}
          extra={
            <Link to={`/console/cases/${filed.id}`}>
              <Button type="primary">{t("complaint.view")}</Button>
            </Link>
          }
        />
      </Card>
    );
  return (
    <div style={{ maxWidth: 760, margin: "0 auto" }}>
      <div className="page-title">
        <h1>{t("complaint.title")}</h1>
      </div>
      <Typography.Paragraph type="secondary">{t("complaint.intro")}</Typography.Paragraph>
      <Card>
        {error && <Alert role="alert" type="error" showIcon title={error} style={{ marginBottom: 16 }} />}
        <Form<Values>
          layout="vertical"
          initialValues={{ org: params.get("org") ?? undefined }}
          onFinish={async (v) => {
            setBusy(true);
            setError(undefined);
            try {
              const target = resourceID ? { type: "resource" as const, id: resourceID } : v.org ? { type: "org" as const, id: v.org } : undefined;
              setFiled(
                await fileComplaint({
                  title: v.title.trim(),
                  category: v.category,
                  description: v.description.trim(),
                  occurred_on: v.occurred_on?.format("YYYY-MM-DD"),
                  contact: v.contact?.trim(),
                  target,
                }),
              );
              window.scrollTo(0, 0);
            } catch (e) {
              setError((e as Error).message);
            } finally {
              setBusy(false);
            }
          }}
        >
          <Form.Item name="title" label={t("complaint.subject")} rules={[{ required: true, whitespace: true, message: t("cform.required") }]}>
            <Input maxLength={200} data-testid="complaint-title" />
          </Form.Item>
          <Form.Item name="category" label={t("payload.category")} rules={[{ required: true, message: t("cform.required") }]}>
            <Select data-testid="complaint-category" options={COMPLAINT_CATEGORIES.map((c) => ({ value: c, label: label("category", c) }))} />
          </Form.Item>
          {resourceID ? (
            <Form.Item label={t("complaint.about")}>
              <Link to={`/catalog/${resourceID}`}>{res.data?.name ?? resourceID}</Link>
            </Form.Item>
          ) : (
            <Form.Item name="org" label={t("complaint.aboutOrg")} extra={t("complaint.aboutOrgHint")}>
              <Select
                allowClear
                showSearch
                optionFilterProp="label"
                loading={orgs.loading}
                options={(orgs.data ?? []).map((o) => ({ value: o.id, label: lang === "en" && o.name_en ? o.name_en : o.name }))}
              />
            </Form.Item>
          )}
          <Form.Item name="description" label={t("complaint.description")} extra={t("complaint.descriptionHint")} rules={[{ required: true, whitespace: true, message: t("cform.required") }]}>
            <Input.TextArea rows={6} maxLength={10000} showCount data-testid="complaint-description" />
          </Form.Item>
          <Space wrap size="large">
            <Form.Item name="occurred_on" label={t("complaint.occurred")}>
              <DatePicker disabledDate={(d) => d.isAfter(new Date())} />
            </Form.Item>
            <Form.Item name="contact" label={t("complaint.contact")} extra={t("complaint.contactHint")}>
              <Input maxLength={200} style={{ width: 280 }} />
            </Form.Item>
          </Space>
          <Form.Item>
            <Button type="primary" htmlType="submit" loading={busy} data-testid="complaint-submit">
              {t("complaint.submit")}
            </Button>
          </Form.Item>
        </Form>
      </Card>
    </div>
  );
}
