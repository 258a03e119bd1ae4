import { Alert, Button, Card, Form, Input, Typography } from "antd";
import { useState } from "react";
import { Navigate, useNavigate, useSearchParams } from "react-router-dom";
import { isAuthority, useAuth } from "../auth";
import { useLang } from "../i18n";

export function Login() {
  const { t } = useLang();
  const { me, login } = useAuth();
  const nav = useNavigate();
  const [params] = useSearchParams();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const next = params.get("next");
  const safeNext = next && next.startsWith("/") && !next.startsWith("//") ? next : undefined;
  if (me) return <Navigate to={safeNext ?? (isAuthority(me) ? "/authority/cases" : "/console/catalog")} replace />;
  return (
    <div style={{ maxWidth: 400, margin: "32px auto" }}>
      <Card>
        <Typography.Title level={1} style={{ fontSize: 22, marginTop: 0 }}>
          {t("login.title")}
        </Typography.Title>
        <Typography.Paragraph type="secondary">{t("login.hint")}</Typography.Paragraph>
        {error && <Alert role="alert" type="error" showIcon title={error} style={{ marginBottom: 16 }} />}
        <Form
          layout="vertical"
          requiredMark={false}
          onFinish={async (v: { username: string; password: string }) => {
            setBusy(true);
            setError(undefined);
            try {
              const u = await login(v.username.trim(), v.password);
              nav(safeNext ?? (isAuthority(u) ? "/authority/cases" : "/console/catalog"), { replace: true });
            } catch (e) {
              setError((e as Error).message);
            } finally {
              setBusy(false);
            }
          }}
        >
          <Form.Item label={t("login.username")} name="username" rules={[{ required: true, message: t("login.usernameRequired") }]}>
            <Input autoComplete="username" autoFocus data-testid="login-username" />
          </Form.Item>
          <Form.Item label={t("login.password")} name="password" rules={[{ required: true, message: t("login.passwordRequired") }]}>
            <Input.Password autoComplete="current-password" data-testid="login-password" />
          </Form.Item>
          <Button type="primary" htmlType="submit" block loading={busy} data-testid="login-submit">
            {t("login.submit")}
          </Button>
        </Form>
      </Card>
    </div>
  );
}
