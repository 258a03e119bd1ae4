import { Alert, App, Button, Card, Descriptions, Form, Input, List, Modal, Progress, Space, Tag, Timeline, Typography } from "antd";
import { DownloadOutlined, UploadOutlined } from "@ant-design/icons";
import { useRef, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api, ApiError, type Case } from "../api";
import { useAuth } from "../auth";
import { MAX_ATTACHMENT, uploadAttachment, type Attachment } from "../api/console";
import { DisputeDialog } from "./ShareForms";
import { useEnum, useLang } from "../i18n";
import { useAsync } from "../lib/useAsync";
import { DANGER, REASON_REQUIRED, useCaseKinds } from "../lib/cases";
import { useOrgNames } from "../lib/shared";
import { Async } from "../components/Async";
import { Deadline } from "../components/Deadline";
import { fmtTime } from "../lib/format";

/** Uploader sends one file with progress; a file over the limit is refused before it is sent. */
function Uploader({ caseID, onDone }: { caseID: string; onDone: () => void }) {
  const { t, lang } = useLang();
  const { message } = App.useApp();
  const input = useRef<HTMLInputElement>(null);
  const [pct, setPct] = useState<number>();
  const [name, setName] = useState("");
  const [error, setError] = useState<string>();
  const limit = `${MAX_ATTACHMENT / (1 << 20)} MiB`;
  const send = async (f: File) => {
    setError(undefined);
    setName(f.name);
    if (f.size > MAX_ATTACHMENT) {
      setError(t("attach.tooLarge", { name: f.name, size: fmtSize(f.size), max: limit }));
      return;
    }
    setPct(0);
    try {
      await uploadAttachment(caseID, f, lang === "zh" ? "zh-CN" : "en", setPct);
      message.success(t("attach.done", { name: f.name }));
      onDone();
    } catch (e) {
      const tooLarge = e instanceof ApiError && e.status === 413;
      setError(tooLarge ? t("attach.tooLarge", { name: f.name, size: fmtSize(f.size), max: limit }) : t("attach.failed", { name: f.name, why: (e as Error).message }));
    } finally {
      setPct(undefined);
      if (input.current) input.current.value = "";
    }
  };
  return (
    <div style={{ marginTop: 12 }}>
      <input
        ref={input}
        type="file"
        hidden
        aria-hidden="true"
        tabIndex={-1}
        data-testid="attach-input"
        onChange={(e) => {
          const f = e.target.files?.[0];
          if (f) void send(f);
        }}
      />
      <Space wrap>
        <Button icon={<UploadOutlined />} onClick={() => input.current?.click()} disabled={pct !== undefined} data-testid="attach-upload">
          {t("attach.upload")}
        </Button>
        <Typography.Text type="secondary">{t("attach.limit", { max: limit })}</Typography.Text>
      </Space>
      {pct !== undefined && (
        <div role="status" aria-live="polite" style={{ marginTop: 8, maxWidth: 420 }}>
          <Typography.Text>{t("attach.uploading", { name })}</Typography.Text>
          <Progress percent={pct} size="small" status="active" />
        </div>
      )}
      {error && <Alert role="alert" type="error" showIcon title={error} style={{ marginTop: 8 }} data-testid="attach-error" closable onClose={() => setError(undefined)} />}
    </div>
  );
}

function fmtSize(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}

export function CaseDetail() {
  const { id = "" } = useParams();
  const { t, lang, pick } = useLang();
  const generic = useEnum();
  const kinds = useCaseKinds();
  const orgName = useOrgNames(lang === "en");
  const { message } = App.useApp();
  const state = useAsync((signal) => api<Case>(`/api/v1/cases/${encodeURIComponent(id)}`, { signal }), [id]);
  // A kind's own labels first ("concur" is 提供单位同意 on an open-data
  // application, 同意共享 on a share request), then the generic ones.
  const label = (group: string, value?: string) => {
    const k = kinds.find((x) => x.name === state.data?.kind);
    const own = value && (group === "action" ? k?.action_labels?.[value] : group === "state" ? k?.state_labels?.[value] : undefined);
    return own ? pick(own[0], own[1]) : generic(group, value);
  };
  const atts = useAsync((signal) => api<{ items: Attachment[] }>(`/api/v1/cases/${encodeURIComponent(id)}/attachments`, { signal }), [id]);
  const [acting, setActing] = useState<string>();
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [actError, setActError] = useState<string>();
  const [comment, setComment] = useState("");
  const [disputing, setDisputing] = useState(false);
  const { me } = useAuth();

  const act = async (c: Case, action: string) => {
    setBusy(true);
    setActError(undefined);
    try {
      await api(`/api/v1/cases/${c.id}/actions/${action}`, { body: { reason: reason.trim() || undefined, version: c.version } });
      message.success(t("case.actDone", { action: label("action", action) }));
      setActing(undefined);
      setReason("");
      state.reload();
    } catch (e) {
      setActError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Async state={state} rows={8}>
      {(c) => {
        const kind = kinds.find((k) => k.name === c.kind);
        const payload = Object.entries(c.payload ?? {});
        return (
          <>
            <div className="page-title">
              <h1 data-testid="case-title">{c.title || c.id}</h1>
              <Link to="/console/cases">{t("case.back")}</Link>
            </div>
            {c.overdue && <Alert type="error" showIcon role="alert" title={t("case.overdueAlert")} style={{ marginBottom: 16 }} />}
            {c.decision && (
              <Alert
                type={c.decision.outcome === "approved" ? "success" : c.decision.outcome === "refused" ? "error" : "info"}
                showIcon
                title={t("case.decision", { outcome: label("outcome", c.decision.outcome), at: fmtTime(c.decision.at) })}
                description={c.decision.reason && `${t("case.reason")}: ${c.decision.reason}`}
                style={{ marginBottom: 16 }}
                data-testid="case-decision"
              />
            )}
            <Card style={{ marginBottom: 16 }}>
              <Descriptions bordered size="small" column={{ xs: 1, md: 2 }}>
                <Descriptions.Item label={t("case.kind")}>{kind ? pick(kind.label_zh, kind.label_en) : c.kind}</Descriptions.Item>
                <Descriptions.Item label={t("case.state")}>
                  <Tag>{label("state", c.state)}</Tag> <Tag color={c.phase === "closed" ? "default" : "processing"}>{label("phase", c.phase)}</Tag>
                </Descriptions.Item>
                <Descriptions.Item label={t("case.deadline")}>
                  <Deadline c={c} /> {c.phase !== "closed" && c.deadline && fmtTime(c.deadline)}
                </Descriptions.Item>
                <Descriptions.Item label={t("case.level")}>{c.level > 0 ? label("escalation", c.level_name) || c.level_name : t("case.levelFirst")}</Descriptions.Item>
                <Descriptions.Item label={t("case.applicant")}>{orgName(c.applicant.org_id)}</Descriptions.Item>
                <Descriptions.Item label={t("case.targetOrg")}>
                  {orgName(c.target.org_id)}
                  {c.target.type === "resource" && c.target.id && (
                    <>
                      {" · "}
                      <Link to={`/catalog/${c.target.id}`}>{t("case.targetResource")}</Link>
                    </>
                  )}
                </Descriptions.Item>
                <Descriptions.Item label={t("case.filed")}>{fmtTime(c.created_at)}</Descriptions.Item>
                <Descriptions.Item label={t("case.pausedDays")}>{c.paused_days}</Descriptions.Item>
              </Descriptions>
            </Card>
            {payload.length > 0 && (
              <Card title={<h2 className="card-h">{t("case.payload")}</h2>} style={{ marginBottom: 16 }}>
                <Descriptions size="small" column={1}>
                  {payload.map(([k, v]) => (
                    <Descriptions.Item key={k} label={label("payload", k) || k}>
                      {k === "attr" && typeof v === "string"
                        ? label("share", v)
                        : (k === "failing" || k === "category") && typeof v === "string"
                          ? label(k, v)
                        : typeof v === "boolean"
                          ? v
                            ? t("common.yes")
                            : t("common.no")
                          : Array.isArray(v) && v.every((x) => typeof x === "string")
                            ? v.join("、")
                            : typeof v === "string" || typeof v === "number"
                              ? String(v)
                              : v && typeof v === "object" && !Array.isArray(v) && Object.values(v).every((x) => x === null || typeof x !== "object")
                                ? Object.entries(v).map(([k2, x]) => `${label("payload", k2) || k2}：${typeof x === "boolean" ? t(x ? "common.yes" : "common.no") : label(`${k}.${k2}`, String(x ?? "—"))}`).join("；")
                                : <code className="mono">{JSON.stringify(v)}</code>}
                    </Descriptions.Item>
                  ))}
                </Descriptions>
              </Card>
            )}
            <Card title={<h2 className="card-h">{t("case.actions")}</h2>} style={{ marginBottom: 16 }}>
              {c.actions && c.actions.length > 0 ? (
                <Space wrap>
                  {c.actions.map((a) => (
                    <Button key={a} danger={DANGER.has(a)} type={a === "approve" || a === "accept" ? "primary" : "default"} onClick={() => setActing(a)} data-testid={`act-${a}`}>
                      {label("action", a)}
                    </Button>
                  ))}
                </Space>
              ) : (
                <Typography.Text type="secondary">{t("case.noActions")}</Typography.Text>
              )}
              {c.kind === "share_request" && c.target.id && me && c.applicant.org_id === me.org.id && (
                <div style={{ marginTop: 12 }}>
                  <Typography.Text type="secondary">{t("dispute.fromRequest")} </Typography.Text>
                  <Button type="link" onClick={() => setDisputing(true)} data-testid="dispute-from-case">
                    {t("dispute.action")}
                  </Button>
                </div>
              )}
              {disputing && c.target.id && (
                <DisputeDialog resource={{ id: c.target.id, name: String(c.payload.resource_name ?? c.title) }} onClose={() => setDisputing(false)} />
              )}
            </Card>
            <Card title={<h2 className="card-h">{t("case.history")}</h2>} style={{ marginBottom: 16 }}>
              <Timeline
                items={(c.history ?? []).map((h) => ({
                  color: h.action === "refuse" ? "red" : h.action === "escalate" ? "orange" : h.action === "comment" ? "gray" : "blue",
                  children: (
                    <>
                      <strong>{label("action", h.action)}</strong>
                      {h.to && h.from !== h.to && <> → {label("state", h.to)}</>} <Typography.Text type="secondary">{fmtTime(h.at)}</Typography.Text>
                      <div style={{ fontSize: 12, color: "#5b6b86" }}>
                        {h.actor_kind === "system" ? t("case.system") : orgName(h.actor_org)}
                      </div>
                      {h.body && <div style={{ whiteSpace: "pre-wrap" }}>{h.body}</div>}
                    </>
                  ),
                }))}
              />
              <Form
                layout="vertical"
                style={{ marginTop: 16 }}
                onFinish={async () => {
                  try {
                    await api(`/api/v1/cases/${c.id}/comments`, { body: { body: comment.trim() } });
                    setComment("");
                    state.reload();
                  } catch (e) {
                    message.error((e as Error).message);
                  }
                }}
              >
                <Form.Item label={t("case.comment")}>
                  <Input.TextArea value={comment} onChange={(e) => setComment(e.target.value)} rows={2} maxLength={20000} />
                </Form.Item>
                <Button htmlType="submit" disabled={!comment.trim()}>
                  {t("case.addComment")}
                </Button>
              </Form>
            </Card>
            <Card title={<h2 className="card-h">{t("case.attachments")}</h2>}>
              <Async state={atts} isEmpty={(a) => a.items.length === 0} rows={1} empty={<Typography.Text type="secondary">{t("case.noAttachments")}</Typography.Text>}>
                {(a) => (
                  <List
                    size="small"
                    dataSource={a.items}
                    pagination={a.items.length > 10 ? { pageSize: 10, size: "small" } : false}
                    data-testid="attachments"
                    renderItem={(x) => (
                      <List.Item
                        actions={[
                          <a key="d" href={`/api/v1/cases/${c.id}/attachments/${x.id}`} download={x.name} aria-label={t("attach.download", { name: x.name })}>
                            <DownloadOutlined /> {t("attach.downloadShort")}
                          </a>,
                        ]}
                      >
                        <span>
                          <a href={`/api/v1/cases/${c.id}/attachments/${x.id}`} download={x.name}>
                            {x.name}
                          </a>{" "}
                          <Typography.Text type="secondary">
                            {fmtSize(x.size)} · {fmtTime(x.created_at)}
                          </Typography.Text>
                        </span>
                      </List.Item>
                    )}
                  />
                )}
              </Async>
              {c.phase !== "closed" && <Uploader caseID={c.id} onDone={atts.reload} />}
            </Card>
            <Modal
              open={!!acting}
              title={acting && t("case.actTitle", { action: label("action", acting) })}
              okText={acting && label("action", acting)}
              cancelText={t("action.cancel")}
              okButtonProps={{ danger: acting ? DANGER.has(acting) : false, disabled: !!acting && REASON_REQUIRED.has(acting) && !reason.trim(), id: "act-confirm" }}
              confirmLoading={busy}
              onOk={() => acting && act(c, acting)}
              onCancel={() => {
                setActing(undefined);
                setActError(undefined);
              }}
              destroyOnHidden
            >
              {actError && <Alert role="alert" type="error" showIcon title={actError} style={{ marginBottom: 12 }} />}
              <Form layout="vertical">
                <Form.Item label={acting && REASON_REQUIRED.has(acting) ? t("case.reasonRequired") : t("case.reasonOptional")} required={!!acting && REASON_REQUIRED.has(acting)}>
                  <Input.TextArea value={reason} onChange={(e) => setReason(e.target.value)} rows={4} maxLength={20000} data-testid="act-reason" autoFocus />
                </Form.Item>
              </Form>
            </Modal>
          </>
        );
      }}
    </Async>
  );
}
