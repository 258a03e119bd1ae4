import { Alert, Button, Empty, Skeleton } from "antd";
import type { ReactNode } from "react";
import { ApiError } from "../api";
import { useLang } from "../i18n";
import type { AsyncState } from "../lib/useAsync";

/** ErrorState shows an error with the request id and a retry button. */
export function ErrorState({ error, retry }: { error: Error; retry?: () => void }) {
  const { t } = useLang();
  const id = error instanceof ApiError ? error.requestId : undefined;
  const status = error instanceof ApiError ? error.status : undefined;
  let title = t("state.error");
  if (status === 401) title = t("state.needLogin");
  else if (status === 403) title = t("state.forbidden");
  else if (status === 404) title = t("state.notFound");
  else if (status === 0) title = t("state.offline");
  return (
    <Alert
      role="alert"
      type="error"
      showIcon
      title={title}
      description={
        <>
          {error.message}
          {id && <div style={{ opacity: 0.7, fontSize: 12 }}>{t("state.requestId", { id })}</div>}
        </>
      }
      action={
        retry && (
          <Button size="small" onClick={retry}>
            {t("action.retry")}
          </Button>
        )
      }
    />
  );
}

/** Async renders loading, error and empty states around a loaded value. */
export function Async<T>({
  state,
  children,
  isEmpty,
  empty,
  rows = 4,
}: {
  state: AsyncState<T>;
  children: (data: T) => ReactNode;
  isEmpty?: (data: T) => boolean;
  empty?: ReactNode;
  rows?: number;
}) {
  const { t } = useLang();
  if (state.error) return <ErrorState error={state.error} retry={state.reload} />;
  if (state.loading && state.data === undefined)
    return (
      <div aria-busy="true" aria-live="polite">
        <span className="sr-only">{t("state.loading")}</span>
        <Skeleton active paragraph={{ rows }} />
      </div>
    );
  if (state.data === undefined) return null;
  if (isEmpty?.(state.data)) return <>{empty ?? <Empty description={t("state.empty")} />}</>;
  return <>{children(state.data)}</>;
}
