import { Alert, App, Button, Card, Checkbox, Col, Divider, Form, Input, Row, Select, Space, Typography } from "antd";
import { DeleteOutlined, PlusOutlined } from "@ant-design/icons";
import { useEffect, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api, ApiError, type Draft, type Entry, type Resource } from "../api";
import { useAuth } from "../auth";
import { useEnum, useLang } from "../i18n";
import { useConfig } from "../lib/shared";
import { ErrorState } from "../components/Async";
import { PublishDialog } from "../components/PublishDialog";

const LEVELS = ["general", "important", "core"];
const ATTRS = ["unconditional", "conditional", "none"];
const FREQS = ["realtime", "daily", "weekly", "monthly", "quarterly", "yearly", "irregular"];
const CLASSES = ["government", "public_service", "purchased"];
const FTYPES = ["string", "integer", "decimal", "boolean", "date", "datetime", "binary", "geometry"];

const blank = (org: string): Entry => ({
  name: "",
  description: "",
  org_id: org,
  data_class: "government",
  themes: [],
  library: {},
  frequency: "monthly",
  formats: ["csv"],
  level: "general",
  share: { attr: "unconditional" },
  open: { attr: "unconditional" },
  delivery: { mode: "hosted" },
  contact: {},
  tags: [],
  fields: [{ name: "", label: "", type: "string", level: "general" }],
});

/** clean drops empty optional strings so the API sees absent values. */
function clean(e: Entry): Entry {
  const strip = <T extends object>(o: T): T => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== "" && v !== undefined && v !== null)) as T;
  return {
    ...e,
    library: e.library?.kind ? strip(e.library) : {},
    share: strip(e.share),
    open: strip(e.open),
    delivery: strip(e.delivery),
    contact: strip(e.contact ?? {}),
    tags: e.tags ?? [],
    themes: e.themes ?? [],
    formats: e.formats ?? [],
    fields: (e.fields ?? []).map((f) => strip(f)),
  };
}

export function EntryEditor() {
  const { id } = useParams();
  const { t, lang } = useLang();
  const en = lang === "en";
  const label = useEnum();
  const { me } = useAuth();
  const nav = useNavigate();
  const { message } = App.useApp();
  const config = useConfig();
  const [form] = Form.useForm<Entry>();
  const [loadError, setLoadError] = useState<Error>();
  const [init, setInit] = useState<Entry | undefined>(() => (id ? undefined : blank(me?.org.id ?? "")));
  const [draft, setDraft] = useState<Draft>();
  const [status, setStatus] = useState<string>();
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<ApiError>();
  const [publishing, setPublishing] = useState(false);
  const [reviewCase, setReviewCase] = useState<string>();

  useEffect(() => {
    if (!id) {
      setInit(blank(me?.org.id ?? ""));
      return;
    }
    const ac = new AbortController();
    (async () => {
      try {
        const r = await api<Resource>(`/api/v1/catalog/resources/${id}`, { signal: ac.signal });
        setStatus(r.status);
        setReviewCase(r.review_case_id);
        try {
          const d = await api<Draft>(`/api/v1/catalog/resources/${id}/draft`, { signal: ac.signal });
          setDraft(d);
          setInit(d);
        } catch (e) {
          if (e instanceof ApiError && e.code === "catalog.no_draft") setInit(r);
          else throw e;
        }
      } catch (e) {
        if ((e as Error).name !== "AbortError") setLoadError(e as Error);
      }
    })();
    return () => ac.abort();
  }, [id, me]);

  const opts = (vals: string[], group: string) => vals.map((v) => ({ value: v, label: label(group, v) }));
  const terms = (ts?: { code: string; zh: string; en: string }[]) => (ts ?? []).map((x) => ({ value: x.code, label: en ? x.en : x.zh }));

  const save = async (): Promise<Draft | undefined> => {
    let v: Entry;
    try {
      v = await form.validateFields();
    } catch {
      message.error(t("editor.fixErrors"));
      return;
    }
    setSaving(true);
    setSaveError(undefined);
    try {
      const entry = clean({ ...blank(me?.org.id ?? ""), ...v, org_id: draft?.org_id ?? me?.org.id ?? "" });
      let d: Draft;
      const rid = id ?? draft?.resource_id;
      if (!rid) {
        // Stay on this page (and this form) after creating: later saves update the new draft.
        d = await api<Draft>("/api/v1/catalog/resources", { body: entry });
        message.success(t("editor.created"));
        setDraft(d);
      } else {
        d = await api<Draft>(`/api/v1/catalog/resources/${rid}/draft`, { method: "PUT", body: { ...entry, rev: draft?.rev ?? 0 } });
        message.success(t("editor.saved"));
        setDraft(d);
      }
      form.setFieldValue("code", d.code);
      return d;
    } catch (e) {
      setSaveError(e as ApiError);
      if (e instanceof ApiError && e.field) {
        const path = e.field.split(/[.[\]]/).filter(Boolean).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
        form.setFields([{ name: path as never, errors: [e.message] }]);
      }
    } finally {
      setSaving(false);
    }
  };

  const shareAttr = Form.useWatch(["share", "attr"], form);
  const openAttr = Form.useWatch(["open", "attr"], form);
  const deliveryMode = Form.useWatch(["delivery", "mode"], form);
  const libKind = Form.useWatch(["library", "kind"], form);

  if (loadError) return <ErrorState error={loadError} />;
  if (!init) return <div aria-busy="true">{t("state.loading")}</div>;

  const attrFields = (kind: "share" | "open", attr?: string) => (
    <>
      {attr === "conditional" && (
        <Form.Item name={[kind, "conditions"]} label={t("resource.conditions")} rules={[{ required: true, whitespace: true }]}>
          <Input.TextArea rows={2} />
        </Form.Item>
      )}
      {attr === "none" && (
        <>
          <Form.Item name={[kind, "basis"]} label={t("resource.basis")} rules={[{ required: true, whitespace: true }]} extra={t("editor.noneHint")}>
            <Input />
          </Form.Item>
          <Form.Item name={[kind, "reason"]} label={t("resource.reason")} rules={[{ required: true, whitespace: true }]}>
            <Input.TextArea rows={2} />
          </Form.Item>
        </>
      )}
    </>
  );

  return (
    <>
      <div className="page-title">
        <h1>{id ? t("editor.editTitle") : t("editor.newTitle")}</h1>
        <Space wrap>
          <Link to="/console/catalog">{t("editor.back")}</Link>
          {status === "published" && id && <Link to={`/catalog/${id}`}>{t("editor.viewPublic")}</Link>}
        </Space>
      </div>
      {reviewCase && <Alert type="info" showIcon style={{ marginBottom: 12 }} title={<Link to={`/console/cases/${reviewCase}`}>{t("catalog.inReview")}</Link>} />}
      {saveError && <Alert role="alert" type="error" showIcon style={{ marginBottom: 12 }} title={saveError.message} description={saveError.field && `${t("editor.where")}: ${saveError.field}`} />}
      {draft && draft.duplicates.length > 0 && (
        <Alert
          type="warning"
          showIcon
          style={{ marginBottom: 12 }}
          title={t("editor.duplicates")}
          description={
            <ul style={{ margin: 0, paddingLeft: 18 }}>
              {draft.duplicates.map((x) => (
                <li key={x.field + x.resource_id}>
                  {t("catalog.duplicateOf", { field: x.field, name: x.resource_name, org: x.org_name })} — <Link to={`/catalog/${x.resource_id}`}>{x.resource_code}</Link>. {x.how}
                </li>
              ))}
            </ul>
          }
        />
      )}
      {draft && draft.breaking.length > 0 && (
        <Alert
          type="warning"
          showIcon
          style={{ marginBottom: 12 }}
          title={t("editor.breaking")}
          description={draft.breaking.map((c) => `${c.path} (${c.op})`).join(", ")}
        />
      )}
      <Form form={form} layout="vertical" scrollToFirstError initialValues={init}>
        <Card title={<h2 className="card-h">{t("editor.basics")}</h2>} style={{ marginBottom: 16 }}>
          <Row gutter={16}>
            <Col xs={24} md={16}>
              <Form.Item name="name" label={t("resource.name")} rules={[{ required: true, whitespace: true, message: t("editor.nameRequired") }]}>
                <Input maxLength={200} data-testid="entry-name" />
              </Form.Item>
            </Col>
            <Col xs={24} md={8}>
              <Form.Item name="code" label={t("resource.code")} extra={t("editor.codeHint")}>
                <Input disabled />
              </Form.Item>
            </Col>
          </Row>
          <Form.Item name="description" label={t("resource.description")}>
            <Input.TextArea rows={3} maxLength={5000} showCount data-testid="entry-description" />
          </Form.Item>
          <Row gutter={16}>
            <Col xs={24} md={8}>
              <Form.Item name="data_class" label={t("resource.dataClass")} rules={[{ required: true }]}>
                <Select options={opts(CLASSES, "dataClass")} />
              </Form.Item>
            </Col>
            <Col xs={24} md={8}>
              <Form.Item name="themes" label={t("resource.themes")} rules={[{ required: true, type: "array", min: 1, message: t("editor.themeRequired") }]}>
                <Select mode="multiple" options={terms(config?.taxonomy.themes)} optionFilterProp="label" data-testid="entry-themes" />
              </Form.Item>
            </Col>
            <Col xs={24} md={8}>
              <Form.Item name="industry" label={t("resource.industry")}>
                <Select allowClear options={terms(config?.taxonomy.industries)} optionFilterProp="label" showSearch />
              </Form.Item>
            </Col>
            <Col xs={24} md={8}>
              <Form.Item name={["library", "kind"]} label={t("editor.libraryKind")}>
                <Select
                  allowClear
                  options={[
                    { value: "base", label: t("editor.libraryBase") },
                    { value: "theme", label: t("editor.libraryTheme") },
                  ]}
                />
              </Form.Item>
            </Col>
            {libKind && (
              <Col xs={24} md={8}>
                <Form.Item name={["library", "code"]} label={t("resource.library")} rules={[{ required: true }]}>
                  <Select options={terms(libKind === "base" ? config?.taxonomy.base_libraries : config?.taxonomy.theme_libraries)} />
                </Form.Item>
              </Col>
            )}
            <Col xs={24} md={8}>
              <Form.Item name="frequency" label={t("resource.frequency")} rules={[{ required: true }]}>
                <Select options={opts(FREQS, "frequency")} />
              </Form.Item>
            </Col>
            <Col xs={24} md={8}>
              <Form.Item name="formats" label={t("resource.formats")} rules={[{ required: true, type: "array", min: 1 }]}>
                <Select mode="multiple" options={terms(config?.taxonomy.formats)} />
              </Form.Item>
            </Col>
            <Col xs={24} md={8}>
              <Form.Item name="level" label={t("resource.level")} rules={[{ required: true }]}>
                <Select options={opts(LEVELS, "level")} />
              </Form.Item>
            </Col>
            <Col xs={24} md={8}>
              <Form.Item name="tags" label={t("resource.tags")}>
                <Select mode="tags" tokenSeparators={[",", "，"]} open={false} suffixIcon={null} />
              </Form.Item>
            </Col>
          </Row>
          <Form.Item name="legal_basis" label={t("resource.legalBasis")}>
            <Input maxLength={500} />
          </Form.Item>
        </Card>

        <Card title={<h2 className="card-h">{t("editor.attributes")}</h2>} style={{ marginBottom: 16 }}>
          <Row gutter={16}>
            <Col xs={24} md={12}>
              <Form.Item name={["share", "attr"]} label={t("resource.share")} rules={[{ required: true }]}>
                <Select options={opts(ATTRS, "share")} />
              </Form.Item>
              {attrFields("share", shareAttr)}
            </Col>
            <Col xs={24} md={12}>
              <Form.Item name={["open", "attr"]} label={t("resource.open")} rules={[{ required: true }]}>
                <Select options={opts(ATTRS, "open")} />
              </Form.Item>
              {attrFields("open", openAttr)}
            </Col>
            <Col xs={24} md={12}>
              <Form.Item name={["delivery", "mode"]} label={t("resource.delivery")} rules={[{ required: true }]}>
                <Select options={opts(["hosted", "service"], "delivery")} />
              </Form.Item>
            </Col>
            {deliveryMode === "service" && (
              <Col xs={24} md={12}>
                <Form.Item name={["delivery", "endpoint"]} label={t("editor.endpoint")} rules={[{ required: true, type: "url" }]}>
                  <Input placeholder="https://" />
                </Form.Item>
              </Col>
            )}
          </Row>
          <Divider titlePlacement="start" plain>
            {t("resource.contact")}
          </Divider>
          <Row gutter={16}>
            <Col xs={24} md={8}>
              <Form.Item name={["contact", "name"]} label={t("editor.contactName")}>
                <Input />
              </Form.Item>
            </Col>
            <Col xs={24} md={8}>
              <Form.Item name={["contact", "phone"]} label={t("editor.contactPhone")}>
                <Input />
              </Form.Item>
            </Col>
            <Col xs={24} md={8}>
              <Form.Item name={["contact", "email"]} label={t("editor.contactEmail")} rules={[{ type: "email" }]}>
                <Input />
              </Form.Item>
            </Col>
          </Row>
        </Card>

        <Card title={<h2 className="card-h">{t("editor.fields")}</h2>} style={{ marginBottom: 16 }}>
          <Typography.Paragraph type="secondary">{t("editor.fieldsHint")}</Typography.Paragraph>
          <Form.List name="fields">
            {(rows, { add, remove }) => (
              <>
                {rows.map((row, i) => (
                  <fieldset key={row.key} className="field-row" aria-label={t("editor.fieldN", { n: i + 1 })}>
                    <Row gutter={8} align="bottom">
                      <Col xs={12} md={4}>
                        <Form.Item name={[row.name, "name"]} label={t("field.name")} rules={[{ required: true, pattern: /^[a-z][a-z0-9_]*$/, message: t("editor.fieldNameRule") }]}>
                          <Input data-testid={`field-name-${i}`} />
                        </Form.Item>
                      </Col>
                      <Col xs={12} md={4}>
                        <Form.Item name={[row.name, "label"]} label={t("field.label")} rules={[{ required: true, whitespace: true }]}>
                          <Input data-testid={`field-label-${i}`} />
                        </Form.Item>
                      </Col>
                      <Col xs={12} md={3}>
                        <Form.Item name={[row.name, "type"]} label={t("field.type")} rules={[{ required: true }]}>
                          <Select options={opts(FTYPES, "ftype")} />
                        </Form.Item>
                      </Col>
                      <Col xs={12} md={3}>
                        <Form.Item name={[row.name, "level"]} label={t("field.level")} rules={[{ required: true }]}>
                          <Select options={opts(LEVELS, "level")} />
                        </Form.Item>
                      </Col>
                      <Col xs={24} md={5}>
                        <Form.Item name={[row.name, "description"]} label={t("field.description")}>
                          <Input />
                        </Form.Item>
                      </Col>
                      <Col xs={20} md={4}>
                        <Space size={4} wrap style={{ marginBottom: 24 }}>
                          <Form.Item name={[row.name, "required"]} valuePropName="checked" noStyle>
                            <Checkbox>{t("field.required")}</Checkbox>
                          </Form.Item>
                          <Form.Item name={[row.name, "personal"]} valuePropName="checked" noStyle>
                            <Checkbox>{t("field.personal")}</Checkbox>
                          </Form.Item>
                          <Form.Item name={[row.name, "sensitive"]} valuePropName="checked" noStyle>
                            <Checkbox>{t("field.sensitive")}</Checkbox>
                          </Form.Item>
                        </Space>
                      </Col>
                      <Col xs={4} md={1}>
                        <Button
                          type="text"
                          danger
                          icon={<DeleteOutlined />}
                          aria-label={t("editor.removeField", { n: i + 1 })}
                          onClick={() => remove(row.name)}
                          style={{ marginBottom: 24 }}
                          disabled={rows.length === 1}
                        />
                      </Col>
                    </Row>
                  </fieldset>
                ))}
                <Button type="dashed" icon={<PlusOutlined />} onClick={() => add({ name: "", label: "", type: "string", level: "general" })} block>
                  {t("editor.addField")}
                </Button>
              </>
            )}
          </Form.List>
        </Card>
        <Space wrap style={{ marginBottom: 24 }}>
          <Button type="primary" loading={saving} onClick={save} data-testid="entry-save">
            {t("editor.saveDraft")}
          </Button>
          <Button
            disabled={!!reviewCase}
            onClick={async () => {
              const d = await save();
              if (d) setPublishing(true);
            }}
            data-testid="entry-publish"
          >
            {t("editor.saveAndPublish")}
          </Button>
        </Space>
      </Form>
      {publishing && draft && (
        <PublishDialog
          open
          resourceId={draft.resource_id}
          rev={draft.rev}
          breaking={draft.breaking.length > 0}
          onClose={() => setPublishing(false)}
          onDone={(r) => {
            setPublishing(false);
            if (r.review_case_id) nav(`/console/cases/${r.review_case_id}`);
            else nav(`/catalog/${r.resource.id}`);
          }}
        />
      )}
    </>
  );
}
