import { Card, Typography } from "antd";
import { useLang } from "../i18n";
import { CodeBlock } from "../components/CodeBlock";

export function Developers() {
  const { t } = useLang();
  const o = window.location.origin;
  return (
    <>
      <div className="page-title">
        <h1>{t("dev.title")}</h1>
      </div>
      <Card style={{ marginBottom: 16 }}>
        <Typography.Paragraph>{t("dev.intro")}</Typography.Paragraph>
        <ul>
          <li>
            <a href="/api/v1/openapi.yaml">{t("dev.openapi")}</a>
          </li>
          <li>
            <a href="/api/v1/catalog/dcat.jsonld">{t("dev.dcat")}</a>
          </li>
          <li>
            <a href="/api/3/action/package_search">{t("dev.ckan")}</a>
          </li>
          <li>
            <a href="/api/v1/ledger/checkpoint">{t("dev.checkpoint")}</a>
          </li>
        </ul>
      </Card>
      <Card title={<h2 className="card-h">{t("dev.examples")}</h2>}>
        <CodeBlock title={t("api.exSearch")} code={`curl -s '${o}/api/v1/catalog/search?q=${encodeURIComponent("交通")}&open=unconditional'`} />
        <CodeBlock title={t("api.exCkanSearch")} code={`curl -s '${o}/api/3/action/package_search?q=${encodeURIComponent("交通")}&rows=10'`} />
        <CodeBlock title={t("api.exDcat")} code={`curl -s '${o}/api/v1/catalog/dcat.jsonld'`} />
        <CodeBlock title={t("dev.token")} code={`curl -s -H 'Authorization: Bearer <token>' '${o}/api/v1/me'`} />
        <Typography.Paragraph type="secondary">{t("dev.tokenHint")}</Typography.Paragraph>
      </Card>
    </>
  );
}
