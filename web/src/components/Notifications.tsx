import { Badge, Button, Empty, List, Popover, Typography } from "antd";
import { BellOutlined } from "@ant-design/icons";
import { useState } from "react";
import { useNavigate } from "react-router-dom";
import { api, type Page } from "../api";
import { useLang } from "../i18n";
import { useAsync } from "../lib/useAsync";
import { fmtTime } from "../lib/format";

interface Notification {
  id: string;
  case_id: string;
  title_zh: string;
  title_en: string;
  created_at: string;
  read: boolean;
}

/** Notifications shows unread case notifications; opening one marks it read. */
export function Notifications() {
  const { t, pick } = useLang();
  const nav = useNavigate();
  const [open, setOpen] = useState(false);
  const state = useAsync((signal) => api<Page<Notification>>("/api/v1/notifications", { query: { unread: "true", limit: 20 }, signal }), [open]);
  const items = state.data?.items ?? [];
  const markRead = async (ids: string[]) => {
    if (ids.length) await api("/api/v1/notifications/read", { body: { ids } }).catch(() => undefined);
    state.reload();
  };
  return (
    <Popover
      open={open}
      onOpenChange={setOpen}
      trigger="click"
      placement="bottomRight"
      title={
        <div style={{ display: "flex", justifyContent: "space-between", alignItems: "center", gap: 16 }}>
          <span>{t("notify.title")}</span>
          {items.length > 0 && (
            <Button size="small" type="link" onClick={() => markRead(items.map((n) => n.id))}>
              {t("notify.markAll")}
            </Button>
          )}
        </div>
      }
      content={
        <div style={{ width: 320, maxHeight: 400, overflowY: "auto" }}>
          {items.length === 0 ? (
            <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={t("notify.none")} />
          ) : (
            <List
              size="small"
              dataSource={items}
              renderItem={(n) => (
                <List.Item>
                  <Button
                    type="link"
                    style={{ padding: 0, height: "auto", whiteSpace: "normal", textAlign: "left" }}
                    onClick={async () => {
                      setOpen(false);
                      await markRead([n.id]);
                      nav(`/console/cases/${n.case_id}`);
                    }}
                  >
                    {pick(n.title_zh, n.title_en)}
                  </Button>
                  <Typography.Text type="secondary" style={{ fontSize: 12, whiteSpace: "nowrap" }}>
                    {fmtTime(n.created_at)}
                  </Typography.Text>
                </List.Item>
              )}
            />
          )}
        </div>
      }
    >
      <Badge count={items.length} size="small" overflowCount={19}>
        <Button type="text" icon={<BellOutlined />} aria-label={t("notify.label", { n: items.length })} data-testid="notifications" />
      </Badge>
    </Popover>
  );
}
