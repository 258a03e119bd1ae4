// The org and authority console's types and calls beyond src/api.ts: loads
// and quality (tag "ingest"), scorecards (tag "governance"), misuse reports
// and disputes (tag "share"), complaints and attachments (tag "cases").
import { api, ApiError, csrfToken, type Attr, type Case, type Field, type Page } from "../api";

// ---- ingest ----

export type LoadStatus = "loading" | "applied" | "rejected" | "failed" | "aborted";

export interface Dataset {
  resource_id: string;
  resource_code: string;
  org_id: string;
  key: string[];
  fields: Field[];
  schema_version: string;
  frequency: string;
  status: "ready" | "schema_refused";
  status_reason?: string;
  rows: number;
  active_batch?: string;
  last_load_at?: string;
  created_at: string;
  updated_at: string;
}

export interface Profile {
  score: number;
  completeness: number;
  validity: number;
  uniqueness: number;
  timeliness: number;
  rows: number;
  valid: number;
  rule_warnings: number;
  errors?: Record<string, number>;
}

export interface Load {
  id: string;
  seq: number;
  resource_id: string;
  org_id: string;
  mode: string;
  policy: string;
  format: string;
  source?: string;
  case_id?: string;
  status: LoadStatus;
  reason?: string;
  rows_read: number;
  rows_staged: number;
  rows_rejected: number;
  rows_duplicate: number;
  inserted: number;
  updated: number;
  deleted: number;
  rows_total: number;
  errors_stored: number;
  content_hash?: string;
  actor_kind: string;
  created_at: string;
  updated_at: string;
  finished_at?: string;
  profile?: Profile;
}

export interface ReportLine {
  row: number;
  column?: number;
  field?: string;
  code: string;
  zh: string;
  en: string;
  value?: string;
}

export interface ScorePoint {
  day: string;
  loads: number;
  score: number;
  completeness: number;
  validity: number;
  uniqueness: number;
  timeliness: number;
}

export interface OrgQuality {
  org_id: string;
  org_name?: string;
  entries: number;
  datasets: number;
  loaded: number;
  late: number;
  score: number;
}

export interface Laggard {
  resource_id: string;
  resource_code: string;
  resource_name: string;
  org_id: string;
  org_name?: string;
  reason: "no_dataset" | "never_loaded" | "late" | "schema_refused" | "low_score";
  frequency: string;
  last_load_at?: string;
  due_at?: string;
  score?: number;
}

export interface LaggardReport {
  at: string;
  orgs: OrgQuality[];
  entries: Laggard[];
}

export interface PIIHint {
  id: string;
  resource_id: string;
  org_id: string;
  field: string;
  entity: string;
  sampled: number;
  matched: number;
  examples: string[];
  status: "open" | "dismissed" | "resolved";
  note?: string;
  batch_id?: string;
  created_at: string;
  updated_at: string;
}

export const datasets = (signal: AbortSignal, cursor?: string) =>
  api<Page<Dataset>>("/api/v1/ingest/datasets", { query: { limit: 20, cursor }, signal });
export const loadsOf = (resource: string, signal: AbortSignal, cursor?: string) =>
  api<Page<Load>>(`/api/v1/ingest/datasets/${encodeURIComponent(resource)}/loads`, { query: { limit: 10, cursor }, signal });
export const loadOne = (id: string, signal?: AbortSignal) => api<Load>(`/api/v1/ingest/loads/${encodeURIComponent(id)}`, { signal });
export const loadErrors = (id: string, signal: AbortSignal) =>
  api<Page<ReportLine>>(`/api/v1/ingest/loads/${encodeURIComponent(id)}/errors`, { query: { format: "json" }, signal });
export const errorsCsvUrl = (id: string) => `/api/v1/ingest/loads/${encodeURIComponent(id)}/errors`;
export const scores = (q: { org?: string; resource?: string }, signal: AbortSignal) =>
  api<Page<ScorePoint>>("/api/v1/ingest/quality/scores", { query: q, signal });
export const laggards = (signal: AbortSignal) => api<LaggardReport>("/api/v1/ingest/quality/laggards", { signal });
export const piiHints = (status: string, signal: AbortSignal) => api<Page<PIIHint>>("/api/v1/ingest/pii-hints", { query: { status }, signal });
export const decideHint = (id: string, status: "resolved" | "dismissed", note: string) =>
  api<PIIHint>(`/api/v1/ingest/pii-hints/${encodeURIComponent(id)}`, { body: { status, note } });

// ---- scorecards (R-GOV-1) ----

export interface CaseMeasure {
  received: number;
  decided: number;
  open: number;
  overdue: number;
  on_time: number | null;
  mean_days: number | null;
}

export interface Scorecard {
  org_id: string;
  org_name: string;
  org_kind: string;
  catalog: { published: number; complete: number; completeness: number | null; missing: Record<string, number> };
  aggregation: { hosted: number; datasets: number; loaded: number; late: number; timeliness: number | null };
  quality: { loaded: number; score: number | null };
  cases: CaseMeasure;
  objections: CaseMeasure;
  overall: number | null;
}

export interface ScorecardReport {
  at: string;
  since: string;
  items: Scorecard[];
}

export const scorecards = (signal: AbortSignal, org?: string) => api<ScorecardReport>("/api/v1/scorecards", { query: { org }, signal });

// ---- share forms ----

export interface SharedGrant {
  id: string;
  resource_id: string;
  resource_code: string;
  resource_name: string;
  provider_org_id: string;
  grantee_org_id: string;
  state: "active" | "suspended" | "terminated";
}

export const reportMisuse = (grantID: string, measure: "suspend" | "terminate", reason: string, evidence: string) =>
  api<Case>("/api/v1/share/misuse-reports", { body: { grant_id: grantID, measure, reason, evidence: evidence || undefined } });
export const fileDispute = (resourceID: string, proposed: Attr, reason: string) =>
  api<Case>("/api/v1/share/disputes", { body: { resource_id: resourceID, proposed, reason } });

// ---- complaints (R-SEC-11) ----

export const COMPLAINT_CATEGORIES = ["personal_information", "data_security", "data_quality", "sharing_opening", "market", "other"];

export interface ComplaintInput {
  title: string;
  category: string;
  description: string;
  occurred_on?: string;
  contact?: string;
  target?: { type: "org" | "resource"; id: string };
}

export const fileComplaint = (c: ComplaintInput) =>
  api<Case>("/api/v1/cases", {
    body: {
      kind: "complaint",
      title: c.title,
      target: c.target ?? {},
      payload: { category: c.category, description: c.description, occurred_on: c.occurred_on || undefined, contact: c.contact || undefined },
    },
  });

// ---- attachments ----

export interface Attachment {
  id: string;
  name: string;
  size: number;
  content_type: string;
  created_at: string;
}

/** MAX_ATTACHMENT mirrors the server's default limit (casework Options.MaxAttachment, 10 MiB). */
export const MAX_ATTACHMENT = 10 << 20;

/**
 * uploadAttachment sends one file as multipart/form-data with XMLHttpRequest,
 * which (unlike fetch) reports upload progress. Errors come back as ApiError.
 */
export function uploadAttachment(caseID: string, file: File, lang: string, onProgress: (pct: number) => void, signal?: AbortSignal): Promise<Attachment> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/v1/cases/${encodeURIComponent(caseID)}/attachments`);
    xhr.withCredentials = true;
    const csrf = csrfToken();
    if (csrf) xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.setRequestHeader("Accept-Language", lang);
    xhr.responseType = "text";
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(Math.round((100 * e.loaded) / e.total));
    };
    xhr.onload = () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(xhr.responseText || "{}");
      } catch {
        /* not JSON */
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body as unknown as Attachment);
      else reject(new ApiError({ status: xhr.status, title: xhr.statusText, ...body }));
    };
    xhr.onerror = () => reject(new ApiError({ status: 0, code: "network", detail: "network error" }));
    xhr.onabort = () => reject(new DOMException("aborted", "AbortError"));
    signal?.addEventListener("abort", () => xhr.abort());
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}
