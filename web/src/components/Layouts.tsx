import { Button, Drawer, Dropdown, Layout, Menu, Space, Typography } from "antd";
import {
  AppstoreOutlined,
  BulbOutlined,
  CloudDownloadOutlined,
  AuditOutlined,
  BarChartOutlined,
  DatabaseOutlined,
  DashboardOutlined,
  FileSearchOutlined,
  KeyOutlined,
  LogoutOutlined,
  MenuOutlined,
  SafetyCertificateOutlined,
  ShareAltOutlined,
  UserOutlined,
  WarningOutlined,
} from "@ant-design/icons";
import { useState, type ReactNode } from "react";
import { Link, Navigate, Outlet, useLocation, useNavigate } from "react-router-dom";
import { isAuthority, useAuth } from "../auth";
import { useLang } from "../i18n";
import { LangSwitch } from "./LangSwitch";
import { Notifications } from "./Notifications";

const { Header, Content, Footer, Sider } = Layout;

function Logo() {
  const { t } = useLang();
  return (
    <Link to="/" className="logo" aria-label={t("nav.home")}>
      <img src="/favicon.svg" alt="" width={28} height={28} />
      <span className="logo-text">
        {t("app.name")}
        <small>{t("app.tagline")}</small>
      </span>
    </Link>
  );
}

function SkipLink() {
  const { t } = useLang();
  return (
    <a className="skip-link" href="#main">
      {t("nav.skip")}
    </a>
  );
}

function UserMenu() {
  const { me, logout } = useAuth();
  const { t } = useLang();
  const nav = useNavigate();
  if (!me)
    return (
      <Link to="/login">
        <Button type="primary" icon={<UserOutlined />} data-testid="nav-login">
          {t("nav.login")}
        </Button>
      </Link>
    );
  return (
    <Dropdown
      trigger={["click"]}
      menu={{
        items: [
          { key: "org", label: me.org.name, disabled: true },
          { key: "console", icon: <DashboardOutlined />, label: t("nav.console") },
          { key: "logout", icon: <LogoutOutlined />, label: t("nav.logout") },
        ],
        onClick: async ({ key }) => {
          if (key === "console") nav(isAuthority(me) ? "/authority/cases" : "/console/catalog");
          if (key === "logout") {
            await logout();
            nav("/");
          }
        },
      }}
    >
      <Button icon={<UserOutlined />} aria-label={t("nav.account", { name: me.name })} data-testid="user-menu">
        <span className="hide-narrow">{me.name}</span>
      </Button>
    </Dropdown>
  );
}

export function PortalLayout() {
  const { t } = useLang();
  const loc = useLocation();
  const [open, setOpen] = useState(false);
  const links = [
    { to: "/", label: t("nav.home") },
    { to: "/catalog", label: t("nav.catalog") },
    { to: "/open", label: t("nav.openList") },
    { to: "/developers", label: t("nav.developers") },
  ];
  const current = (to: string) => (to === "/" || to === "/open" ? loc.pathname === to : loc.pathname + loc.search === to || (to === "/catalog" && loc.pathname.startsWith("/catalog") && !loc.search.includes("open_list")));
  const nav = (
    <nav aria-label={t("nav.main")}>
      <ul className="portal-nav">
        {links.map((l) => (
          <li key={l.to}>
            <Link to={l.to} aria-current={current(l.to) ? "page" : undefined} onClick={() => setOpen(false)}>
              {l.label}
            </Link>
          </li>
        ))}
      </ul>
    </nav>
  );
  return (
    <Layout className="portal">
      <SkipLink />
      <Header className="portal-header">
        <Logo />
        <div className="hide-narrow grow">{nav}</div>
        <Space size={4}>
          <LangSwitch />
          <UserMenu />
          <Button className="show-narrow" type="text" icon={<MenuOutlined />} aria-label={t("nav.menu")} onClick={() => setOpen(true)} />
        </Space>
      </Header>
      <Drawer open={open} onClose={() => setOpen(false)} placement="right" size={260} title={t("nav.menu")}>
        {nav}
      </Drawer>
      <Content id="main" tabIndex={-1} className="portal-content">
        <Outlet />
      </Content>
      <Footer className="portal-footer">
        <Typography.Text type="secondary">{t("app.footer")}</Typography.Text>
        <span className="footer-links">
          {" · "}
          <Link to="/complaints" data-testid="footer-complaints">
            {t("nav.complaints")}
          </Link>
        </span>
      </Footer>
    </Layout>
  );
}

/** RequireLogin sends visitors to the login page and back. */
export function RequireLogin({ children, authority }: { children: ReactNode; authority?: boolean }) {
  const { me, loading } = useAuth();
  const loc = useLocation();
  const { t } = useLang();
  if (loading) return <div aria-busy="true">{t("state.loading")}</div>;
  if (!me) return <Navigate to={`/login?next=${encodeURIComponent(loc.pathname + loc.search)}`} replace />;
  if (authority && !isAuthority(me))
    return (
      <Typography.Paragraph role="alert" style={{ padding: 24 }}>
        {t("state.authorityOnly")}
      </Typography.Paragraph>
    );
  return <>{children}</>;
}

export function ConsoleLayout() {
  const { me } = useAuth();
  const { t } = useLang();
  const loc = useLocation();
  const nav = useNavigate();
  const [collapsed, setCollapsed] = useState(false);
  const items = [
    {
      type: "group" as const,
      key: "org",
      label: me?.org.name,
      children: [
        { key: "/console/catalog", icon: <AppstoreOutlined />, label: t("console.catalog") },
        { key: "/console/cases", icon: <AuditOutlined />, label: t("console.cases") },
        { key: "/console/grants", icon: <ShareAltOutlined />, label: t("console.grants") },
        { key: "/console/demands", icon: <BulbOutlined />, label: t("console.demands") },
        { key: "/console/loads", icon: <DatabaseOutlined />, label: t("console.loads") },
        ...(isAuthority(me) ? [] : [{ key: "/console/scorecard", icon: <BarChartOutlined />, label: t("console.scorecard") }]),
        ...(me?.roles.some((r) => r === "admin" || r === "authority_admin")
          ? [{ key: "/console/clients", icon: <KeyOutlined />, label: t("console.clients") }]
          : []),
      ],
    },
  ];
  if (isAuthority(me))
    items.push({
      type: "group" as const,
      key: "authority",
      label: t("console.authority"),
      children: [
        { key: "/authority/cases", icon: <FileSearchOutlined />, label: t("authority.allCases") },
        { key: "/authority/overdue", icon: <WarningOutlined />, label: t("authority.overdue") },
        { key: "/authority/ledger", icon: <SafetyCertificateOutlined />, label: t("authority.ledger") },
        { key: "/authority/scorecards", icon: <BarChartOutlined />, label: t("authority.scorecards") },
        { key: "/authority/open", icon: <CloudDownloadOutlined />, label: t("authority.openData") },
      ],
    });
  const selected = [...items.flatMap((g) => g.children.map((c) => c.key))].filter((k) => loc.pathname.startsWith(k));
  return (
    <RequireLogin>
      <Layout className="console">
        <SkipLink />
        <Header className="portal-header">
          <Logo />
          <div className="grow" />
          <Space size={4}>
            <Notifications />
            <LangSwitch />
            <UserMenu />
          </Space>
        </Header>
        <Layout>
          <Sider
            breakpoint="lg"
            collapsedWidth={0}
            collapsed={collapsed}
            onCollapse={setCollapsed}
            width={220}
            theme="light"
            className="console-sider"
            zeroWidthTriggerStyle={{ top: 8 }}
          >
            <nav aria-label={t("nav.console")}>
              <Menu
                mode="inline"
                selectedKeys={selected}
                items={items}
                onClick={({ key }) => {
                  nav(key);
                  if (window.innerWidth < 992) setCollapsed(true);
                }}
              />
            </nav>
          </Sider>
          <Content id="main" tabIndex={-1} className="console-content">
            <Outlet />
          </Content>
        </Layout>
      </Layout>
    </RequireLogin>
  );
}
