import { Alert, Breadcrumb, Button, Card, Descriptions, Space, Table, Tabs, Tag, Timeline, Typography } from "antd";
import { useState } from "react";
import { Link, useParams, useSearchParams } from "react-router-dom";
import { api, type Field, type Page, type Resource, type Version } from "../api";
import { useEnum, useLang } from "../i18n";
import { useAsync } from "../lib/useAsync";
import { termLabel, useConfig, useOrgNames } from "../lib/shared";
import { Async } from "../components/Async";
import { CodeBlock } from "../components/CodeBlock";
import { fmtDate, fmtTime } from "../lib/format";
import { levelColor } from "./Search";
import { useAuth } from "../auth";
import { ShareDialog } from "../components/ShareDialog";
import { OpenDataPanel, OpenPreview } from "../components/OpenResource";
import { OpenObjectionForm } from "../components/OpenObjection";

export function ResourcePage() {
  const { id = "" } = useParams();
  const { t, lang } = useLang();
  const en = lang === "en";
  const label = useEnum();
  const config = useConfig();
  const orgName = useOrgNames(en);
  const state = useAsync((signal) => api<Resource>(`/api/v1/catalog/resources/${encodeURIComponent(id)}`, { signal }), [id]);
  const versions = useAsync((signal) => api<Page<Version>>(`/api/v1/catalog/resources/${encodeURIComponent(id)}/versions`, { signal }), [id]);
  const origin = window.location.origin;
  const { me } = useAuth();
  const [sharing, setSharing] = useState(false);
  const [params, setParams] = useSearchParams();
  const tab = params.get("tab") ?? "about";
  const setTab = (k: string) =>
    setParams(
      (p) => {
        if (k === "about") p.delete("tab");
        else p.set("tab", k);
        return p;
      },
      { replace: true },
    );

  return (
    <Async state={state} rows={8}>
      {(r) => {
        const tx = config?.taxonomy;
        const attr = (kind: "share" | "open") => {
          const s = r[kind];
          return (
            <Space direction="vertical" size={0}>
              <Tag color={s.attr === "unconditional" ? "blue" : s.attr === "conditional" ? "gold" : "default"}>{label(kind, s.attr)}</Tag>
              {s.conditions && <span>{t("resource.conditions")}: {s.conditions}</span>}
              {s.basis && <span>{t("resource.basis")}: {s.basis}</span>}
              {s.reason && <span>{t("resource.reason")}: {s.reason}</span>}
            </Space>
          );
        };
        const fieldCols = [
          { title: t("field.name"), dataIndex: "name", key: "name", render: (v: string) => <code>{v}</code> },
          { title: t("field.label"), dataIndex: "label", key: "label" },
          { title: t("field.type"), dataIndex: "type", key: "type", render: (v: string) => label("ftype", v) },
          {
            title: t("field.level"),
            dataIndex: "level",
            key: "level",
            render: (v: string, f: Field) => (
              <Space size={2} wrap>
                <Tag color={levelColor(v)}>{label("level", v)}</Tag>
                {f.sensitive ? <Tag color="red">{t("field.sensitive")}</Tag> : f.personal ? <Tag color="purple">{t("field.personal")}</Tag> : null}
              </Space>
            ),
          },
          { title: t("field.required"), dataIndex: "required", key: "required", render: (v?: boolean) => (v ? t("common.yes") : t("common.no")) },
          { title: t("field.description"), key: "d", render: (_: unknown, f: Field) => [f.description, f.code_list && `${t("field.codeList")}: ${f.code_list}`, f.category].filter(Boolean).join(" · ") || "—" },
        ];
        const apiExamples = [
          { title: t("api.exGet"), code: `curl -s '${origin}/api/v1/catalog/resources/${r.id}'` },
          { title: t("api.exVersions"), code: `curl -s '${origin}/api/v1/catalog/resources/${r.id}/versions'` },
          { title: t("api.exCkan"), code: `curl -s '${origin}/api/3/action/package_show?id=${r.id}'` },
          { title: t("api.exSearch"), code: `curl -s '${origin}/api/v1/catalog/search?q=${encodeURIComponent(r.name)}&org=${r.org_id}'` },
          { title: t("api.exDcat"), code: `curl -s '${origin}/api/v1/catalog/dcat.jsonld'` },
        ];
        const dataExample =
          r.share.attr !== "none"
            ? `curl -s -H 'Authorization: Bearer <token>' '${origin}/api/v1/data/${r.id}?fields=${r.fields
                .filter((f) => !f.personal)
                .slice(0, 3)
                .map((f) => f.name)
                .join(",")}&format=csv'`
            : "";
        return (
          <article aria-labelledby="res-title">
            <Breadcrumb
              style={{ marginBottom: 12 }}
              items={[{ title: <Link to="/">{t("nav.home")}</Link> }, { title: <Link to="/catalog">{t("nav.catalog")}</Link> }, { title: r.name }]}
            />
            <Card style={{ marginBottom: 16 }}>
              <Typography.Title level={1} id="res-title" style={{ fontSize: 24, marginTop: 0 }} data-testid="resource-title">
                {r.name}
              </Typography.Title>
              <Space wrap size={4} style={{ marginBottom: 12 }}>
                <Tag color={r.status === "published" ? "green" : r.status === "withdrawn" ? "default" : "processing"}>{label("status", r.status)}</Tag>
                {r.version && <Tag>{t("resource.version")} {r.version}</Tag>}
                <Tag color={levelColor(r.level)}>{label("level", r.level)}</Tag>
                {r.remote && <Tag color="purple">{t("resource.harvested", { source: r.remote.source })}</Tag>}
                <Typography.Text type="secondary" className="mono">
                  {r.code}
                </Typography.Text>
              </Space>
              <Typography.Paragraph>{r.description || t("resource.noDescription")}</Typography.Paragraph>
              <Space wrap>
                <a href={`/api/3/action/package_show?id=${encodeURIComponent(r.id)}`} target="_blank" rel="noreferrer">
                  {t("resource.ckanLink")}
                </a>
                <a href="/api/v1/catalog/dcat.jsonld" target="_blank" rel="noreferrer">
                  {t("resource.dcatLink")}
                </a>
                <a href={`/api/v1/catalog/resources/${encodeURIComponent(r.id)}`} target="_blank" rel="noreferrer">
                  {t("resource.jsonLink")}
                </a>
              </Space>
              {r.status === "published" && (
                <div style={{ marginTop: 12 }}>
                  <Button type={r.open.attr === "none" ? "default" : "primary"} ghost={r.open.attr !== "none"} onClick={() => setTab("open")} data-testid="open-cta">
                    {r.open.attr === "unconditional" ? t("openData.ctaDownload") : r.open.attr === "conditional" ? t("openData.ctaApply") : t("openData.ctaRequest")}
                  </Button>
                </div>
              )}
              {/* Sharing is between departments and public service orgs (R-SHR-1); enterprises apply for open data instead. */}
              {me && me.org.id !== r.org_id && (me.org.kind === "department" || me.org.kind === "public_service") && r.status === "published" && r.share.attr !== "none" && (
                <div style={{ marginTop: 12 }}>
                  <Button type="primary" onClick={() => setSharing(true)} data-testid="share-open">
                    {r.share.attr === "conditional" ? t("shareReq.open") : t("shareReq.obtain")}
                  </Button>
                  <ShareDialog resource={r} open={sharing} onClose={() => setSharing(false)} />
                </div>
              )}
            </Card>
            {r.status === "withdrawn" && <Alert type="warning" showIcon title={t("resource.withdrawnNote")} style={{ marginBottom: 16 }} />}
            <Tabs
              activeKey={tab}
              onChange={setTab}
              items={[
                {
                  key: "about",
                  label: t("resource.tabAbout"),
                  children: (
                    <Card>
                      <Descriptions bordered size="small" column={{ xs: 1, sm: 1, md: 2 }}>
                        <Descriptions.Item label={t("resource.org")}>
                          <Link to={`/catalog?org=${r.org_id}`}>{en ? orgName(r.org_id) : r.org_name}</Link>
                        </Descriptions.Item>
                        <Descriptions.Item label={t("resource.dataClass")}>{label("dataClass", r.data_class)}</Descriptions.Item>
                        <Descriptions.Item label={t("resource.themes")}>{r.themes.map((x) => termLabel(tx?.themes, x, en)).join("、") || "—"}</Descriptions.Item>
                        <Descriptions.Item label={t("resource.industry")}>{termLabel(tx?.industries, r.industry, en) || "—"}</Descriptions.Item>
                        <Descriptions.Item label={t("resource.library")}>
                          {r.library.code
                            ? termLabel(r.library.kind === "base" ? tx?.base_libraries : tx?.theme_libraries, r.library.code, en)
                            : "—"}
                        </Descriptions.Item>
                        <Descriptions.Item label={t("resource.frequency")}>{label("frequency", r.frequency)}</Descriptions.Item>
                        <Descriptions.Item label={t("resource.timeliness")}>
                          <Space size={4} wrap>
                            <Tag color={r.timeliness === "ok" ? "green" : r.timeliness === "late" ? "red" : "default"} data-testid="timeliness">
                              {label("timeliness", r.timeliness)}
                            </Tag>
                            <span>
                              {t("resource.dataUpdated")}: {fmtTime(r.data_updated_at)}
                            </span>
                          </Space>
                        </Descriptions.Item>
                        <Descriptions.Item label={t("resource.level")}>
                          <Tag color={levelColor(r.level)}>{label("level", r.level)}</Tag>
                        </Descriptions.Item>
                        <Descriptions.Item label={t("resource.share")}>{attr("share")}</Descriptions.Item>
                        <Descriptions.Item label={t("resource.open")}>{attr("open")}</Descriptions.Item>
                        <Descriptions.Item label={t("resource.formats")}>{r.formats.map((f) => termLabel(tx?.formats, f, en)).join(" / ") || "—"}</Descriptions.Item>
                        <Descriptions.Item label={t("resource.delivery")}>{label("delivery", r.delivery.mode)}</Descriptions.Item>
                        <Descriptions.Item label={t("resource.legalBasis")}>{r.legal_basis || "—"}</Descriptions.Item>
                        <Descriptions.Item label={t("resource.published")}>{fmtDate(r.published_at)}</Descriptions.Item>
                        <Descriptions.Item label={t("resource.contact")}>
                          {[r.contact.name, r.contact.phone, r.contact.email].filter(Boolean).join(" · ") || "—"}
                        </Descriptions.Item>
                        <Descriptions.Item label={t("resource.tags")}>{r.tags.length ? r.tags.map((x) => <Tag key={x}>{x}</Tag>) : "—"}</Descriptions.Item>
                      </Descriptions>
                    </Card>
                  ),
                },
                {
                  key: "fields",
                  label: t("resource.tabFields", { n: r.fields.length }),
                  children: (
                    <Card>
                      <Table<Field>
                        rowKey="name"
                        size="small"
                        columns={fieldCols}
                        dataSource={r.fields}
                        pagination={r.fields.length > 20 ? { pageSize: 20 } : false}
                        scroll={{ x: 720 }}
                        data-testid="fields-table"
                        locale={{ emptyText: t("resource.noFields") }}
                      />
                    </Card>
                  ),
                },
                {
                  key: "open",
                  label: <span data-testid="tab-open">{t("openData.tab")}</span>,
                  children: <OpenDataPanel r={r} />,
                },
                ...(r.open.attr === "unconditional" && r.status === "published" && r.delivery.mode !== "service"
                  ? [
                      {
                        key: "preview",
                        label: <span data-testid="tab-preview">{t("openData.tabPreview")}</span>,
                        children: (
                          <Card>
                            <OpenPreview r={r} />
                          </Card>
                        ),
                      },
                    ]
                  : []),
                {
                  key: "api",
                  label: t("resource.tabApi"),
                  children: (
                    <Card>
                      <Typography.Paragraph>{t("api.intro")}</Typography.Paragraph>
                      {apiExamples.map((e) => (
                        <CodeBlock key={e.title} title={e.title} code={e.code} />
                      ))}
                      {dataExample && (
                        <>
                          <Typography.Title level={2} style={{ fontSize: 16 }}>
                            {t("api.dataTitle")}
                          </Typography.Title>
                          <Typography.Paragraph>{t("api.dataIntro")}</Typography.Paragraph>
                          <CodeBlock title={t("api.exData")} code={dataExample} />
                        </>
                      )}
                      <Typography.Paragraph type="secondary">
                        {t("api.contract")} <a href="/api/v1/openapi.yaml">/api/v1/openapi.yaml</a>
                      </Typography.Paragraph>
                    </Card>
                  ),
                },
                {
                  key: "versions",
                  label: t("resource.tabVersions"),
                  children: (
                    <Card>
                      <Async state={versions} isEmpty={(v) => v.items.length === 0}>
                        {(v) => (
                          <Timeline
                            items={[...v.items].reverse().map((x) => ({
                              color: x.action === "withdraw" ? "gray" : x.breaking ? "red" : "blue",
                              children: (
                                <>
                                  <strong>
                                    {x.version} · {label("versionAction", x.action)}
                                  </strong>{" "}
                                  <Typography.Text type="secondary">{fmtTime(x.at)}</Typography.Text>
                                  <div>{x.reason}</div>
                                  {x.diff.length > 0 && (
                                    <Typography.Text type="secondary" style={{ fontSize: 12 }}>
                                      {t("resource.changes", { n: x.diff.length })}: {x.diff.slice(0, 6).map((d) => d.path).join(", ")}
                                      {x.diff.length > 6 ? " …" : ""}
                                    </Typography.Text>
                                  )}
                                </>
                              ),
                            }))}
                          />
                        )}
                      </Async>
                    </Card>
                  ),
                },
                {
                  key: "objection",
                  label: <span data-testid="tab-objection">{t("objection.tab")}</span>,
                  children: (
                    <Card>
                      <OpenObjectionForm r={r} />
                    </Card>
                  ),
                },
              ]}
            />
          </article>
        );
      }}
    </Async>
  );
}
