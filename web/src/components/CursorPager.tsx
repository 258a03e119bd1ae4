import { Button, Space } from "antd";
import { useState } from "react";
import { useLang } from "../i18n";

/** useCursor keeps a stack of cursors for APIs that page by next_cursor. */
export function useCursor() {
  const [stack, setStack] = useState<string[]>([]);
  const cursor = stack[stack.length - 1] ?? "";
  return {
    cursor,
    page: stack.length + 1,
    next: (c: string) => setStack((s) => [...s, c]),
    prev: () => setStack((s) => s.slice(0, -1)),
    reset: () => setStack([]),
  };
}

export function CursorPager({ cur, next }: { cur: ReturnType<typeof useCursor>; next?: string }) {
  const { t } = useLang();
  if (cur.page === 1 && !next) return null;
  return (
    <nav aria-label={t("pager.label")} style={{ marginTop: 16 }}>
      <Space>
        <Button disabled={cur.page === 1} onClick={cur.prev}>
          {t("pager.prev")}
        </Button>
        <span aria-live="polite">{t("pager.page", { n: cur.page })}</span>
        <Button disabled={!next} onClick={() => next && cur.next(next)}>
          {t("pager.next")}
        </Button>
      </Space>
    </nav>
  );
}
