import { Button } from "antd";
import { GlobalOutlined } from "@ant-design/icons";
import { useLang } from "../i18n";

export function LangSwitch() {
  const { lang, setLang, t } = useLang();
  const next = lang === "zh" ? "en" : "zh";
  return (
    <Button
      type="text"
      icon={<GlobalOutlined />}
      onClick={() => setLang(next)}
      aria-label={t("lang.switchTo")}
      lang={next === "zh" ? "zh-CN" : "en"}
      data-testid="lang-switch"
    >
      {next === "zh" ? "中文" : "English"}
    </Button>
  );
}
