import { Button, Result } from "antd";
import { Link } from "react-router-dom";
import { useLang } from "../i18n";

export function NotFound() {
  const { t } = useLang();
  return (
    <Result
      status="404"
      title="404"
      subTitle={t("state.pageNotFound")}
      extra={
        <Link to="/">
          <Button type="primary">{t("nav.home")}</Button>
        </Link>
      }
    />
  );
}
