import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from "react";
import { api, ApiError, setCsrf, type LoginResponse, type Me } from "./api";

interface AuthValue {
  me: Me | null;
  /** loading is true until the first /api/v1/me answer. */
  loading: boolean;
  login: (username: string, password: string) => Promise<Me>;
  logout: () => Promise<void>;
  refresh: () => Promise<void>;
}

const AuthContext = createContext<AuthValue | null>(null);

export const AUTHORITY_ROLES = ["authority_admin", "security_officer", "city_government"];

export function isAuthority(me: Me | null): boolean {
  return !!me && me.org.kind === "authority";
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null);
  const [loading, setLoading] = useState(true);
  const refresh = useCallback(async () => {
    try {
      setMe(await api<Me>("/api/v1/me"));
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) setMe(null);
      else throw e;
    } finally {
      setLoading(false);
    }
  }, []);
  useEffect(() => {
    refresh().catch(() => setLoading(false));
  }, [refresh]);
  const login = useCallback(async (username: string, password: string) => {
    const r = await api<LoginResponse>("/api/v1/auth/login", { body: { username, password } });
    setCsrf(r.csrf_token);
    setMe(r.user);
    return r.user;
  }, []);
  const logout = useCallback(async () => {
    try {
      await api("/api/v1/auth/logout", { method: "POST" });
    } finally {
      setCsrf("");
      setMe(null);
    }
  }, []);
  return <AuthContext.Provider value={{ me, loading, login, logout, refresh }}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthValue {
  const v = useContext(AuthContext);
  if (!v) throw new Error("useAuth outside AuthProvider");
  return v;
}
