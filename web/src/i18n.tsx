import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { setApiLanguage } from "./api";
import { dict } from "./strings";

// Every string the UI shows lives in strings.ts in both languages;
// scripts/check-i18n.mjs fails the build when a key used in t() has no entry.

export type Lang = "zh" | "en";

interface LangValue {
  lang: Lang;
  setLang: (l: Lang) => void;
  /** t translates a key, filling {name} placeholders from vars. */
  t: (key: string, vars?: Record<string, string | number>) => string;
  /** pick chooses between a Chinese and an English text from the API. */
  pick: (zh?: string, en?: string) => string;
}

const LangContext = createContext<LangValue | null>(null);
const KEY = "shuqiao.lang";

function initial(): Lang {
  try {
    const v = localStorage.getItem(KEY);
    if (v === "zh" || v === "en") return v;
  } catch {
    /* ignore */
  }
  return "zh";
}

export function translate(lang: Lang, key: string, vars?: Record<string, string | number>): string {
  const e = dict[key];
  let s = e ? e[lang === "zh" ? 0 : 1] : key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.split(`{${k}}`).join(String(v));
  return s;
}

export function LangProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>(initial);
  useEffect(() => {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    document.title = translate(lang, "app.title");
    setApiLanguage(lang === "zh" ? "zh-CN" : "en");
  }, [lang]);
  const setLang = useCallback((l: Lang) => {
    setLangState(l);
    try {
      localStorage.setItem(KEY, l);
    } catch {
      /* ignore */
    }
  }, []);
  const value = useMemo<LangValue>(
    () => ({
      lang,
      setLang,
      t: (key, vars) => translate(lang, key, vars),
      pick: (zh, en) => (lang === "zh" ? zh || en || "" : en || zh || ""),
    }),
    [lang, setLang],
  );
  return <LangContext.Provider value={value}>{children}</LangContext.Provider>;
}

export function useLang(): LangValue {
  const v = useContext(LangContext);
  if (!v) throw new Error("useLang outside LangProvider");
  return v;
}

/** enumLabel labels an API enum value ("level.general") or shows it as is. */
export function useEnum() {
  const { lang } = useLang();
  return (group: string, value?: string) => {
    if (!value) return "";
    const k = `${group}.${value}`;
    return dict[k] ? translate(lang, k) : value;
  };
}
