import { Alert, App, Button, Card, Form, Input, Modal, Select, Space, Table, Tag, Typography } from "antd";
import { PlusOutlined } from "@ant-design/icons";
import { useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { api, type Page, type SearchResult } from "../api";
import { isAuthority, useAuth } from "../auth";
import { useEnum, useLang } from "../i18n";
import { useAsync } from "../lib/useAsync";
import { loadOrgs, useOrgNames } from "../lib/shared";
import { Async } from "../components/Async";
import { CursorPager, useCursor } from "../components/CursorPager";
import { fmtDate } from "../lib/format";

interface Demand {
  id: string;
  org_id: string;
  title: string;
  description: string;
  scenario: string;
  legal_duty?: string;
  items: string[];
  status: "open" | "cataloging" | "matched" | "closed";
  resource_id?: string;
  asked_org_id?: string;
  note?: string;
  created_at: string;
}

type Act = { demand: Demand; action: "match" | "ask" | "close" };

/** ResourcePicker searches the published catalog for an entry. */
function ResourcePicker({ value, onChange }: { value?: string; onChange?: (v: string) => void }) {
  const { t } = useLang();
  const [opts, setOpts] = useState<{ value: string; label: string }[]>([]);
  return (
    <Select
      showSearch
      value={value}
      onChange={onChange}
      filterOption={false}
      placeholder={t("demands.pickEntry")}
      onSearch={async (q) => {
        if (!q.trim()) return;
        const r = await api<SearchResult>("/api/v1/catalog/search", { query: { q, limit: 20 } }).catch(() => undefined);
        setOpts((r?.items ?? []).map((x) => ({ value: x.id, label: `${x.name} · ${x.org_name}` })));
      }}
      options={opts}
      notFoundContent={null}
    />
  );
}

/** The demand list (供需对接, R-SHR-7): orgs post needs; the authority matches them to entries or asks an org to catalog them. */
export function Demands() {
  const { t, lang } = useLang();
  const label = useEnum();
  const { me } = useAuth();
  const authority = isAuthority(me);
  const orgName = useOrgNames(lang === "en");
  const { message } = App.useApp();
  const [params, setParams] = useSearchParams();
  const status = params.get("status") ?? "";
  const cur = useCursor();
  const state = useAsync((signal) => api<Page<Demand>>("/api/v1/share/demands", { query: { status, limit: 20, cursor: cur.cursor }, signal }), [status, cur.cursor]);
  const orgs = useAsync(() => loadOrgs(), []);
  const [posting, setPosting] = useState(false);
  const [act, setAct] = useState<Act>();
  const [postForm] = Form.useForm();
  const [actForm] = Form.useForm();
  const [busy, setBusy] = useState(false);

  const can = (d: Demand, a: Act["action"]) => {
    if (d.status === "closed" || d.status === "matched") return false;
    if (a === "close") return authority || d.org_id === me?.org.id;
    if (a === "ask") return authority;
    return authority || d.asked_org_id === me?.org.id;
  };

  return (
    <>
      <div className="page-title">
        <h1>{t("console.demands")}</h1>
        <Button type="primary" icon={<PlusOutlined />} onClick={() => setPosting(true)} data-testid="demand-new">
          {t("demands.new")}
        </Button>
      </div>
      <Typography.Paragraph type="secondary">{t("demands.hint")}</Typography.Paragraph>
      <Space style={{ marginBottom: 12 }}>
        <label htmlFor="demand-status">{t("resource.status")}</label>
        <Select
          id="demand-status"
          style={{ width: 180 }}
          value={status}
          onChange={(v) => {
            cur.reset();
            setParams(v ? { status: v } : {}, { replace: true });
          }}
          options={[{ value: "", label: t("demands.allStatus") }, ...["open", "cataloging", "matched", "closed"].map((s) => ({ value: s, label: label("demandStatus", s) }))]}
        />
      </Space>
      <Card>
        <Async state={state} isEmpty={(p) => p.items.length === 0 && !cur.cursor} empty={<Alert type="info" showIcon title={t("demands.none")} />}>
          {(p) => (
            <>
              <Table<Demand>
                rowKey="id"
                dataSource={p.items}
                pagination={false}
                scroll={{ x: 1000 }}
                data-testid="demands-table"
                expandable={{
                  expandedRowRender: (d) => (
                    <div>
                      <Typography.Paragraph style={{ whiteSpace: "pre-wrap" }}>{d.description}</Typography.Paragraph>
                      {d.legal_duty && (
                        <div>
                          {t("payload.legal_duty")}: {d.legal_duty}
                        </div>
                      )}
                      {d.note && (
                        <div>
                          {t("demands.note")}: {d.note}
                        </div>
                      )}
                    </div>
                  ),
                }}
                columns={[
                  { title: t("demands.titleCol"), dataIndex: "title", key: "t", width: 220 },
                  { title: t("demands.poster"), key: "o", render: (_, d) => orgName(d.org_id) },
                  { title: t("payload.scenario"), dataIndex: "scenario", key: "s" },
                  { title: t("demands.items"), key: "i", render: (_, d) => d.items.join("、") },
                  {
                    title: t("resource.status"),
                    key: "st",
                    render: (_, d) => (
                      <Space direction="vertical" size={0}>
                        <Tag color={d.status === "matched" ? "green" : d.status === "cataloging" ? "blue" : d.status === "closed" ? "default" : "gold"}>{label("demandStatus", d.status)}</Tag>
                        {d.resource_id && <Link to={`/catalog/${d.resource_id}`}>{t("demands.matchedEntry")}</Link>}
                        {d.asked_org_id && d.status === "cataloging" && <span>{t("demands.askedOrg", { org: orgName(d.asked_org_id) })}</span>}
                      </Space>
                    ),
                  },
                  { title: t("case.filed"), key: "c", render: (_, d) => <span className="nowrap">{fmtDate(d.created_at)}</span> },
                  {
                    title: t("common.actions"),
                    key: "a",
                    render: (_, d) => (
                      <Space size={0} wrap>
                        {(["match", "ask", "close"] as const)
                          .filter((a) => can(d, a))
                          .map((a) => (
                            <Button key={a} type="link" danger={a === "close"} onClick={() => setAct({ demand: d, action: a })}>
                              {t(`demands.act.${a}`)}
                            </Button>
                          ))}
                      </Space>
                    ),
                  },
                ]}
              />
              <CursorPager cur={cur} next={p.next_cursor} />
            </>
          )}
        </Async>
      </Card>

      <Modal
        open={posting}
        title={t("demands.new")}
        okText={t("demands.post")}
        cancelText={t("action.cancel")}
        destroyOnHidden
        confirmLoading={busy}
        onCancel={() => setPosting(false)}
        onOk={async () => {
          const v = await postForm.validateFields();
          setBusy(true);
          try {
            await api("/api/v1/share/demands", { body: { ...v, items: v.items ?? [] } });
            setPosting(false);
            postForm.resetFields();
            state.reload();
          } catch (e) {
            message.error((e as Error).message);
          } finally {
            setBusy(false);
          }
        }}
      >
        <Form form={postForm} layout="vertical" preserve={false}>
          <Form.Item name="title" label={t("demands.titleCol")} rules={[{ required: true, whitespace: true }]}>
            <Input maxLength={200} />
          </Form.Item>
          <Form.Item name="description" label={t("resource.description")} rules={[{ required: true, whitespace: true }]}>
            <Input.TextArea rows={3} />
          </Form.Item>
          <Form.Item name="scenario" label={t("payload.scenario")} rules={[{ required: true, whitespace: true }]}>
            <Input />
          </Form.Item>
          <Form.Item name="legal_duty" label={t("payload.legal_duty")}>
            <Input />
          </Form.Item>
          <Form.Item name="items" label={t("demands.items")} rules={[{ required: true, type: "array", min: 1 }]} extra={t("demands.itemsHint")}>
            <Select mode="tags" tokenSeparators={[",", "，", "、"]} open={false} suffixIcon={null} />
          </Form.Item>
        </Form>
      </Modal>

      <Modal
        open={!!act}
        title={act && `${t(`demands.act.${act.action}`)}：${act.demand.title}`}
        okText={act && t(`demands.act.${act.action}`)}
        cancelText={t("action.cancel")}
        destroyOnHidden
        confirmLoading={busy}
        onCancel={() => setAct(undefined)}
        onOk={async () => {
          if (!act) return;
          const v = await actForm.validateFields();
          setBusy(true);
          try {
            await api(`/api/v1/share/demands/${act.demand.id}/${act.action}`, { body: v });
            setAct(undefined);
            state.reload();
          } catch (e) {
            message.error((e as Error).message);
          } finally {
            setBusy(false);
          }
        }}
      >
        <Form form={actForm} layout="vertical" preserve={false}>
          {act?.action === "match" && (
            <Form.Item name="resource_id" label={t("demands.entry")} rules={[{ required: true }]}>
              <ResourcePicker />
            </Form.Item>
          )}
          {act?.action === "ask" && (
            <Form.Item name="org_id" label={t("demands.askOrg")} rules={[{ required: true }]}>
              <Select showSearch optionFilterProp="label" options={(orgs.data ?? []).map((o) => ({ value: o.id, label: lang === "en" && o.name_en ? o.name_en : o.name }))} />
            </Form.Item>
          )}
          {act?.action === "close" ? (
            <Form.Item name="reason" label={t("case.reasonRequired")} rules={[{ required: true, whitespace: true }]}>
              <Input.TextArea rows={3} />
            </Form.Item>
          ) : (
            <Form.Item name="note" label={t("demands.note")}>
              <Input.TextArea rows={2} />
            </Form.Item>
          )}
        </Form>
      </Modal>
    </>
  );
}
