import { Alert, Button, Card, DatePicker, Descriptions, Drawer, Form, Input, Select, Space, Table, Tag, Typography } from "antd";
import { CheckCircleFilled, CloseCircleFilled, QuestionCircleFilled } from "@ant-design/icons";
import { useState } from "react";
import type { Dayjs } from "dayjs";
import { api, request, type InclusionProof, type LedgerEntry, type Page } from "../api";
import { useEnum, useLang } from "../i18n";
import { useAsync } from "../lib/useAsync";
import { useOrgNames } from "../lib/shared";
import { Async, ErrorState } from "../components/Async";
import { CursorPager, useCursor } from "../components/CursorPager";
import { fmtTime } from "../lib/format";
import { keyAlgorithm, parseCheckpoint, verifyEntry, type Verification } from "../lib/merkle";

const ACTIONS = ["collect", "store", "use", "process", "transmit", "provide", "disclose", "delete", "destroy", "decide", "admin"];

interface Filters {
  action?: string;
  resource?: string;
  org?: string;
  actor?: string;
  contentHash?: string;
  range?: [Dayjs | null, Dayjs | null] | null;
}

function Check({ ok, label }: { ok: boolean | "unsupported"; label: string }) {
  const icon =
    ok === "unsupported" ? <QuestionCircleFilled style={{ color: "#d97706" }} /> : ok ? <CheckCircleFilled style={{ color: "#16a34a" }} /> : <CloseCircleFilled style={{ color: "#dc2626" }} />;
  return (
    <Space>
      {icon}
      <span>{label}</span>
    </Space>
  );
}

function Verifier({ entry, onClose }: { entry: LedgerEntry; onClose: () => void }) {
  const { t } = useLang();
  const state = useAsync(
    async (signal) => {
      const [bytes, proof, cpRes] = await Promise.all([
        request(`/api/v1/ledger/entries/${entry.seq}`, { signal }).then((r) => r.arrayBuffer()),
        api<InclusionProof>("/api/v1/ledger/proofs/inclusion", { query: { seq: entry.seq }, signal }),
        request("/api/v1/ledger/checkpoint", { signal }),
      ]);
      const key = cpRes.headers.get("X-Ledger-Verifier-Key") ?? "";
      const note = proof.checkpoint ?? (await cpRes.text());
      const v = await verifyEntry(new Uint8Array(bytes), proof, note, key);
      return { v, key, text: new TextDecoder().decode(bytes), origin: parseCheckpoint(note).origin, proofLen: proof.hashes.length };
    },
    [entry.seq],
  );
  return (
    <Drawer open onClose={onClose} title={t("ledger.verifyTitle", { seq: entry.seq })} size={Math.min(560, window.innerWidth)}>
      <Typography.Paragraph type="secondary">{t("ledgerx.verifyHow")}</Typography.Paragraph>
      <Async state={state}>
        {({ v, key, text, origin, proofLen }: { v: Verification; key: string; text: string; origin: string; proofLen: number }) => {
          const all = v.leafMatches && v.rootMatches && v.signature === "valid";
          return (
            <>
              <Alert
                role="status"
                type={all ? "success" : v.leafMatches && v.rootMatches ? "warning" : "error"}
                showIcon
                title={all ? t("ledger.verified") : v.leafMatches && v.rootMatches ? t("ledger.verifiedNoSig") : t("ledger.notVerified")}
                style={{ marginBottom: 16 }}
                data-testid="verify-result"
              />
              <Space direction="vertical" style={{ marginBottom: 16 }}>
                <Check ok={v.leafMatches} label={t("ledger.checkLeaf")} />
                <Check ok={v.rootMatches} label={t("ledger.checkRoot", { n: proofLen, size: v.treeSize })} />
                <Check
                  ok={v.signature === "unsupported" ? "unsupported" : v.signature === "valid"}
                  label={`${v.signature === "unsupported" ? t("ledgerx.sigUnsupported") : t(`ledger.sig.${v.signature}`)}${keyAlgorithm(key) ? ` (${keyAlgorithm(key)})` : ""}`}
                />
              </Space>
              <Descriptions size="small" column={1} bordered>
                <Descriptions.Item label={t("ledger.leafHash")}>
                  <span className="mono">{v.computedLeaf}</span>
                </Descriptions.Item>
                <Descriptions.Item label={t("ledger.computedRoot")}>
                  <span className="mono">{v.computedRoot}</span>
                </Descriptions.Item>
                <Descriptions.Item label={t("ledger.checkpointRoot")}>
                  <span className="mono">{v.checkpointRoot}</span>
                </Descriptions.Item>
                <Descriptions.Item label={t("ledger.origin")}>{origin}</Descriptions.Item>
                <Descriptions.Item label={t("ledger.verifierKey")}>
                  <span className="mono">{key}</span>
                </Descriptions.Item>
              </Descriptions>
              <Typography.Title level={3} style={{ fontSize: 15, marginTop: 16 }}>
                {t("ledger.entryBytes")}
              </Typography.Title>
              <pre className="code">{text}</pre>
            </>
          );
        }}
      </Async>
    </Drawer>
  );
}

export function Ledger() {
  const { t, lang } = useLang();
  const label = useEnum();
  const orgName = useOrgNames(lang === "en");
  const [filters, setFilters] = useState<Filters>({});
  const cur = useCursor();
  const [verifying, setVerifying] = useState<LedgerEntry>();
  const key = JSON.stringify(filters);
  const cp = useAsync(
    async (signal) => {
      const r = await request("/api/v1/ledger/checkpoint", { signal });
      return { cp: parseCheckpoint(await r.text()), key: r.headers.get("X-Ledger-Verifier-Key") ?? "" };
    },
    [],
  );
  const state = useAsync(
    (signal) =>
      api<Page<LedgerEntry>>("/api/v1/ledger/events", {
        query: {
          action: filters.action,
          resource: filters.resource?.trim(),
          org: filters.org?.trim(),
          actor: filters.actor?.trim(),
          content_hash: filters.contentHash?.trim().toLowerCase() || undefined,
          since: filters.range?.[0]?.startOf("day").toISOString(),
          until: filters.range?.[1]?.endOf("day").toISOString(),
          limit: 25,
          cursor: cur.cursor,
        },
        signal,
      }),
    [key, cur.cursor],
  );
  return (
    <>
      <div className="page-title">
        <h1>{t("authority.ledger")}</h1>
      </div>
      <Card style={{ marginBottom: 16 }} title={<h2 className="card-h">{t("ledger.checkpoint")}</h2>}>
        {cp.error ? (
          <ErrorState error={cp.error} retry={cp.reload} />
        ) : (
          cp.data && (
            <Descriptions size="small" column={{ xs: 1, md: 3 }}>
              <Descriptions.Item label={t("ledger.origin")}>{cp.data.cp.origin}</Descriptions.Item>
              <Descriptions.Item label={t("ledger.treeSize")}>
                <span data-testid="tree-size">{cp.data.cp.size}</span>
              </Descriptions.Item>
              <Descriptions.Item label={t("ledgerx.algorithm")}>
                <span data-testid="key-alg">{keyAlgorithm(cp.data.key) || "—"}</span>
              </Descriptions.Item>
              <Descriptions.Item label={t("ledger.verifierKey")}>
                <Typography.Text className="mono" copyable ellipsis style={{ maxWidth: 260 }}>
                  {cp.data.key}
                </Typography.Text>
              </Descriptions.Item>
            </Descriptions>
          )
        )}
      </Card>
      <Card style={{ marginBottom: 16 }}>
        <Form<Filters>
          layout="inline"
          onFinish={(v) => {
            cur.reset();
            setFilters(v);
          }}
          style={{ rowGap: 8 }}
        >
          <Form.Item name="action" label={t("ledger.action")}>
            <Select allowClear style={{ width: 150 }} options={ACTIONS.map((a) => ({ value: a, label: label("ledgerAction", a) }))} />
          </Form.Item>
          <Form.Item name="resource" label={t("ledger.resource")}>
            <Input style={{ width: 180 }} />
          </Form.Item>
          <Form.Item name="org" label={t("ledger.org")}>
            <Input style={{ width: 180 }} />
          </Form.Item>
          <Form.Item name="actor" label={t("ledger.actor")}>
            <Input style={{ width: 180 }} />
          </Form.Item>
          <Form.Item name="contentHash" label={t("ledger.contentHash")} tooltip={t("ledger.contentHashHelp")}>
            <Input style={{ width: 220 }} className="mono" placeholder="sha256sum" />
          </Form.Item>
          <Form.Item name="range" label={t("ledger.period")}>
            <DatePicker.RangePicker />
          </Form.Item>
          <Button type="primary" htmlType="submit" data-testid="ledger-search">
            {t("action.search")}
          </Button>
        </Form>
      </Card>
      <Card>
        <Async state={state} isEmpty={(p) => p.items.length === 0} empty={<Alert type="info" showIcon title={t("ledger.none")} />}>
          {(p) => (
            <>
              <Table<LedgerEntry>
                rowKey="seq"
                size="small"
                dataSource={p.items}
                pagination={false}
                loading={state.loading}
                scroll={{ x: 900 }}
                data-testid="ledger-table"
                columns={[
                  { title: "#", dataIndex: "seq", key: "seq" },
                  { title: t("ledger.time"), dataIndex: "time", key: "time", render: fmtTime },
                  { title: t("ledger.action"), dataIndex: "action", key: "a", render: (a: string) => <Tag>{label("ledgerAction", a)}</Tag> },
                  { title: t("ledger.object"), key: "o", render: (_, e) => <span className="mono">{e.object ?? e.resource_id ?? "—"}</span> },
                  { title: t("ledger.org"), key: "org", render: (_, e) => orgName(e.org_id) },
                  { title: t("ledger.actor"), key: "actor", render: (_, e) => `${label("actorKind", e.actor_kind)}${e.actor_id ? " " + e.actor_id.slice(0, 8) + "…" : ""}` },
                  {
                    title: t("common.actions"),
                    key: "v",
                    render: (_, e) => (
                      <Button size="small" onClick={() => setVerifying(e)} aria-label={t("ledger.verifyTitle", { seq: e.seq })} data-testid={`verify-${e.seq}`}>
                        {t("ledger.verify")}
                      </Button>
                    ),
                  },
                ]}
              />
              <CursorPager cur={cur} next={p.next_cursor} />
            </>
          )}
        </Async>
      </Card>
      {verifying && <Verifier entry={verifying} onClose={() => setVerifying(undefined)} />}
    </>
  );
}
