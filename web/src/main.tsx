import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter, Navigate, Route, Routes } from "react-router-dom";
import { App as AntApp, ConfigProvider } from "antd";
import zhCN from "antd/locale/zh_CN";
import enUS from "antd/locale/en_US";
import dayjs from "dayjs";
import "dayjs/locale/zh-cn";
import { AuthProvider } from "./auth";
import { LangProvider, useLang } from "./i18n";
import { ConsoleLayout, PortalLayout, RequireLogin } from "./components/Layouts";
import { Home } from "./pages/Home";
import { Search } from "./pages/Search";
import { ResourcePage } from "./pages/Resource";
import { Login } from "./pages/Login";
import { Developers } from "./pages/Developers";
import { MyCatalog } from "./pages/MyCatalog";
import { EntryEditor } from "./pages/EntryEditor";
import { CaseList } from "./pages/Cases";
import { CaseDetail } from "./pages/CaseDetail";
import { Clients } from "./pages/Clients";
import { Grants } from "./pages/Grants";
import { Demands } from "./pages/Demands";
import { Ledger } from "./pages/Ledger";
import { OpenList } from "./pages/OpenList";
import { OpenAuthority } from "./pages/OpenAuthority";
import { NotFound } from "./pages/NotFound";
import { Loads } from "./pages/Loads";
import { Scorecards } from "./pages/Scorecards";
import { Complaint } from "./pages/Complaint";
import "./styles.css";

function Themed() {
  const { lang } = useLang();
  dayjs.locale(lang === "zh" ? "zh-cn" : "en");
  return (
    <ConfigProvider
      locale={lang === "zh" ? zhCN : enUS}
      button={{ autoInsertSpace: false }}
      theme={{ token: { colorPrimary: "#1458d6", borderRadius: 6, fontFamily: "system-ui, -apple-system, 'PingFang SC', 'Microsoft YaHei', 'Noto Sans CJK SC', sans-serif" } }}
    >
      <AntApp>
        <AuthProvider>
          <BrowserRouter>
            <Routes>
              <Route element={<PortalLayout />}>
                <Route index element={<Home />} />
                <Route path="catalog" element={<Search />} />
                <Route path="catalog/:id" element={<ResourcePage />} />
                <Route path="open" element={<OpenList />} />
                <Route path="developers" element={<Developers />} />
                <Route path="login" element={<Login />} />
                <Route
                  path="complaints"
                  element={
                    <RequireLogin>
                      <Complaint />
                    </RequireLogin>
                  }
                />
                <Route path="*" element={<NotFound />} />
              </Route>
              <Route element={<ConsoleLayout />}>
                <Route path="console" element={<Navigate to="/console/catalog" replace />} />
                <Route path="console/catalog" element={<MyCatalog />} />
                <Route path="console/catalog/new" element={<EntryEditor />} />
                <Route path="console/catalog/:id/edit" element={<EntryEditor />} />
                <Route path="console/cases" element={<CaseList scope="org" />} />
                <Route path="console/cases/:id" element={<CaseDetail />} />
                <Route path="console/clients" element={<Clients />} />
                <Route path="console/grants" element={<Grants />} />
                <Route path="console/demands" element={<Demands />} />
                <Route path="console/loads" element={<Loads />} />
                <Route path="console/scorecard" element={<Scorecards />} />
                <Route
                  path="authority/scorecards"
                  element={
                    <RequireLogin authority>
                      <Scorecards />
                    </RequireLogin>
                  }
                />
                <Route
                  path="authority/cases"
                  element={
                    <RequireLogin authority>
                      <CaseList scope="all" />
                    </RequireLogin>
                  }
                />
                <Route
                  path="authority/overdue"
                  element={
                    <RequireLogin authority>
                      <CaseList scope="overdue" />
                    </RequireLogin>
                  }
                />
                <Route
                  path="authority/open"
                  element={
                    <RequireLogin authority>
                      <OpenAuthority />
                    </RequireLogin>
                  }
                />
                <Route
                  path="authority/ledger"
                  element={
                    <RequireLogin authority>
                      <Ledger />
                    </RequireLogin>
                  }
                />
              </Route>
            </Routes>
          </BrowserRouter>
        </AuthProvider>
      </AntApp>
    </ConfigProvider>
  );
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <LangProvider>
      <Themed />
    </LangProvider>
  </StrictMode>,
);
