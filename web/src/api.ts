// The API client: same-origin fetch with the session cookie, the CSRF token
// on unsafe requests, the UI language as Accept-Language (errors come back in
// it), and RFC 9457 problems turned into ApiError.

export interface Problem {
  type?: string;
  title?: string;
  status: number;
  detail?: string;
  code?: string;
  field?: string;
  request_id?: string;
}

export class ApiError extends Error {
  status: number;
  code: string;
  field?: string;
  requestId?: string;
  constructor(p: Problem) {
    super(p.detail || p.title || `HTTP ${p.status}`);
    this.status = p.status;
    this.code = p.code ?? "";
    this.field = p.field;
    this.requestId = p.request_id;
  }
}

const CSRF_KEY = "shuqiao.csrf";
let csrf = safeGet(CSRF_KEY);
let language = "zh-CN";

function safeGet(k: string): string {
  try {
    return localStorage.getItem(k) ?? "";
  } catch {
    return "";
  }
}

export function setCsrf(token: string) {
  csrf = token;
  try {
    if (token) localStorage.setItem(CSRF_KEY, token);
    else localStorage.removeItem(CSRF_KEY);
  } catch {
    /* storage unavailable: keep it in memory */
  }
}

export function hasCsrf() {
  return csrf !== "";
}

/** csrfToken is for requests made without request(), such as uploads with progress. */
export function csrfToken() {
  return csrf;
}

export function setApiLanguage(l: string) {
  language = l;
}

type Query = Record<string, string | number | boolean | string[] | undefined | null>;

export function qs(q?: Query): string {
  if (!q) return "";
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null || v === "") continue;
    if (Array.isArray(v)) v.forEach((x) => p.append(k, x));
    else p.append(k, String(v));
  }
  const s = p.toString();
  return s ? "?" + s : "";
}

export interface RequestOptions {
  method?: string;
  query?: Query;
  body?: unknown;
  /** a file or form to send as is */
  raw?: BodyInit;
  contentType?: string;
  signal?: AbortSignal;
}

export async function request(path: string, o: RequestOptions = {}): Promise<Response> {
  const method = o.method ?? (o.body !== undefined || o.raw !== undefined ? "POST" : "GET");
  const headers: Record<string, string> = { "Accept-Language": language };
  let body: BodyInit | undefined;
  if (o.raw !== undefined) {
    body = o.raw;
    if (o.contentType) headers["Content-Type"] = o.contentType;
  } else if (o.body !== undefined) {
    body = JSON.stringify(o.body);
    headers["Content-Type"] = "application/json";
  }
  if (method !== "GET" && method !== "HEAD" && csrf) headers["X-CSRF-Token"] = csrf;
  let res: Response;
  try {
    res = await fetch(path + qs(o.query), { method, headers, body, credentials: "same-origin", signal: o.signal });
  } catch (e) {
    if ((e as Error).name === "AbortError") throw e;
    throw new ApiError({ status: 0, code: "network", detail: (e as Error).message });
  }
  if (!res.ok) {
    let p: Problem = { status: res.status, title: res.statusText };
    try {
      const ct = res.headers.get("Content-Type") ?? "";
      if (ct.includes("json")) p = { ...p, ...(await res.json()) };
    } catch {
      /* not JSON */
    }
    throw new ApiError(p);
  }
  return res;
}

export async function api<T>(path: string, o: RequestOptions = {}): Promise<T> {
  const res = await request(path, o);
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

// ---- Types of the contract (api/openapi.yaml) ----

export interface Page<T> {
  items: T[];
  next_cursor?: string;
}

export interface Org {
  id: string;
  name: string;
  name_en?: string;
  kind: string;
  credit_code: string;
  created_at: string;
}

export interface Me {
  user_id?: string;
  client_id?: string;
  name: string;
  org: Org;
  roles: string[];
  scopes?: string[];
}

export interface LoginResponse {
  user: Me;
  csrf_token: string;
  expires_at: string;
}

export type Level = "general" | "important" | "core";
export type Attr = "unconditional" | "conditional" | "none";

export interface Field {
  name: string;
  label: string;
  type: string;
  description?: string;
  required?: boolean;
  code_list?: string;
  category?: string;
  level: Level;
  personal?: boolean;
  sensitive?: boolean;
}

export interface Sharing {
  attr: Attr;
  conditions?: string;
  basis?: string;
  reason?: string;
}

export interface Entry {
  code?: string;
  name: string;
  description?: string;
  org_id: string;
  data_class: string;
  themes: string[];
  industry?: string;
  library: { kind?: string; code?: string };
  frequency: string;
  formats: string[];
  legal_basis?: string;
  level: Level;
  share: Sharing;
  open: Sharing;
  delivery: { mode: string; endpoint?: string };
  contact: { name?: string; phone?: string; email?: string };
  tags: string[];
  fields: Field[];
}

export interface Resource extends Entry {
  id: string;
  org_name: string;
  status: "draft" | "published" | "withdrawn";
  version?: string;
  has_draft: boolean;
  review_case_id?: string;
  published_at?: string;
  data_updated_at?: string;
  timeliness: "ok" | "late" | "unknown";
  remote?: { source: string; url?: string; harvested_at: string };
  created_at: string;
  updated_at: string;
}

export interface Duplicate {
  field: string;
  matched_by: string;
  resource_id: string;
  resource_code: string;
  resource_name: string;
  org_name: string;
  their_field: string;
  their_label: string;
  share: string;
  how: string;
}

export interface Change {
  path: string;
  op: string;
  from?: unknown;
  to?: unknown;
  breaking?: boolean;
}

export interface Draft extends Entry {
  resource_id: string;
  rev: number;
  updated_by: string;
  updated_at: string;
  duplicates: Duplicate[];
  breaking: Change[];
}

export interface Version {
  resource_id: string;
  version: string;
  action: string;
  diff: Change[];
  breaking: boolean;
  reason: string;
  by: string;
  at: string;
  case_id?: string;
}

export interface FacetCount {
  value: string;
  label: string;
  count: number;
}

export interface SearchResult {
  total: number;
  items: Resource[];
  facets: Record<string, FacetCount[]>;
}

export interface Term {
  code: string;
  zh: string;
  en: string;
}

export interface CatalogConfig {
  taxonomy: {
    themes: Term[];
    industries: Term[];
    base_libraries: Term[];
    theme_libraries: Term[];
    formats: Term[];
  };
  require_review: boolean;
}

export interface PublishResult {
  resource: Resource;
  review_case_id?: string;
}

export interface ImportResult {
  created: number;
  updated: number;
  published: number;
  drafts: Draft[];
}

export interface OrgCount {
  id: string;
  name: string;
  count: number;
}

export interface CaseKind {
  name: string;
  label_zh: string;
  label_en: string;
  actions: string[];
  /** The kind's own labels of its actions and states: [中文, English]. */
  action_labels?: Record<string, [string, string]>;
  state_labels?: Record<string, [string, string]>;
}

export interface Assignee {
  org_id?: string;
  role?: string;
  user_id?: string;
}

export interface CaseEntry {
  id: number;
  at: string;
  actor_kind: string;
  actor_id?: string;
  actor_org?: string;
  action: string;
  from?: string;
  to?: string;
  level: number;
  body?: string;
}

export interface Case {
  id: string;
  kind: string;
  title: string;
  applicant: { kind: string; id: string; org_id: string };
  target: { type?: string; id?: string; org_id?: string };
  payload: Record<string, unknown>;
  state: string;
  phase: "active" | "paused" | "closed";
  assignees: Assignee[];
  deadline?: string;
  overdue: boolean;
  paused_days: number;
  level: number;
  level_name?: string;
  max_level: number;
  decision?: { outcome: string; reason?: string; by: string; at: string };
  actions?: string[];
  created_at: string;
  updated_at: string;
  version: number;
  history?: CaseEntry[];
}

export interface Client {
  id: string;
  org_id: string;
  name: string;
  roles: string[];
  scopes: string[];
  disabled?: boolean;
  created_at: string;
}

export interface Token {
  id: string;
  client_id: string;
  scopes: string[];
  expires_at: string;
  revoked_at?: string | null;
  created_at: string;
  token?: string;
}

export interface LedgerEntry {
  seq: number;
  time: string;
  actor_kind: string;
  actor_id?: string;
  org_id?: string;
  action: string;
  object?: string;
  resource_id?: string;
  fields?: string[];
  purpose?: string;
  grant_id?: string;
  record_count?: number;
  content_hash?: string;
  detail?: Record<string, unknown>;
  leaf_hash: string;
}

export interface InclusionProof {
  seq: number;
  tree_size: number;
  leaf_hash: string;
  hashes: string[];
  checkpoint?: string;
}
