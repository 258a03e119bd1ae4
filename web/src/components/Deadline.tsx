import { Tag, Tooltip } from "antd";
import type { Case } from "../api";
import { useLang } from "../i18n";
import { daysLeft, fmtTime } from "../lib/format";

/** Deadline shows a case's deadline with how much time is left, overdue in red. */
export function Deadline({ c }: { c: Case }) {
  const { t } = useLang();
  if (!c.deadline) return <span>—</span>;
  if (c.phase === "closed") return <span>{fmtTime(c.deadline)}</span>;
  const d = daysLeft(c.deadline) ?? 0;
  let tag;
  if (c.overdue) tag = <Tag color="red" data-testid="overdue-tag">{t("case.overdueBy", { n: Math.max(1, -d) })}</Tag>;
  else if (c.phase === "paused") tag = <Tag>{t("case.paused")}</Tag>;
  else if (d <= 2) tag = <Tag color="orange">{t("case.daysLeft", { n: Math.max(0, d) })}</Tag>;
  else tag = <Tag color="blue">{t("case.daysLeft", { n: d })}</Tag>;
  return (
    <Tooltip title={t("case.deadlineAt", { at: fmtTime(c.deadline) })}>
      <span tabIndex={0}>{tag}</span>
    </Tooltip>
  );
}
