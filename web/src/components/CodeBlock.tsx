import { Typography } from "antd";
import { useLang } from "../i18n";

/** CodeBlock shows a command with a labelled copy button. */
export function CodeBlock({ code, title }: { code: string; title?: string }) {
  const { t } = useLang();
  return (
    <figure style={{ margin: "0 0 12px" }}>
      {title && (
        <figcaption style={{ display: "flex", justifyContent: "space-between", alignItems: "center", marginBottom: 4 }}>
          <Typography.Text strong>{title}</Typography.Text>
          <Typography.Text copyable={{ text: code, tooltips: [t("action.copy"), t("action.copied")] }} aria-label={t("action.copyWhat", { what: title })} />
        </figcaption>
      )}
      <pre className="code">{code}</pre>
    </figure>
  );
}
