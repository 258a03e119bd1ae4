// Open data (R-OPN-1..6, R-DEV-6): the types of api/openapi.yaml's tag
// "open" and the calls the open pages make. Every download goes through
// the anonymous gate endpoint GET /api/v1/open/data/{resource}.
import { api, request, type Attr, type Case, type Me } from "../api";

export type OpenFormat = "csv" | "xlsx" | "json";
export const OPEN_FORMATS: OpenFormat[] = ["csv", "xlsx", "json"];

export interface OpenListing {
  id: string;
  code: string;
  name: string;
  org: string;
  open: "unconditional" | "conditional";
  conditions?: string;
  frequency: string;
  fields: string[] | null;
  data_updated_at?: string;
  downloads?: Record<string, string>;
  apply_url?: string;
}

export interface OpenKey {
  id: string;
  name: string;
  key?: string;
  created_at: string;
}

export interface OpenCommitments {
  authenticity: boolean;
  compliance: boolean;
  security: boolean;
  no_third_party: boolean;
}

export interface OpenApplication {
  resource_id: string;
  scenario: string;
  fields: string[];
  days?: number;
  commitments: OpenCommitments;
}

/** The verified applicant the platform puts on an open_application case. */
export interface OpenApplicant {
  type: "person" | "enterprise";
  name: string;
  credential: string;
}

export interface OpenDemand {
  resource_id: string;
  resource_code: string;
  resource_name: string;
  org_name: string;
  open: Attr;
  downloads: number;
  /** Looks at the first rows on the resource page; not in the score. */
  previews?: number;
  applications: number;
  requests: number;
  score: number;
}

export interface RiskReport {
  qis?: string[];
  records?: number;
  classes?: number;
  uniques?: number;
  unique_share?: number;
  min_class?: number;
  avg_class?: number;
  threshold?: number;
  prosecutor_max?: number;
  prosecutor_at_risk?: number;
  journalist_at_risk?: number;
  marketer?: number;
  class_size_histogram?: Record<string, number>;
}

export interface OpenRiskScan {
  id: string;
  resource_id: string;
  delivery_id?: string;
  report: RiskReport | null;
  flagged: boolean;
  case_id?: string;
  at: string;
}

export interface OpenEvidence {
  resource_id: string;
  resource_code: string;
  resource_name: string;
  org_id: string;
  since: string;
  downloads: number;
  applications: number;
  requests: number;
  risk?: OpenRiskScan;
  last_review?: string;
}

export interface OpenOpening {
  case_id: string;
  resource_id: string;
  path: "derivative" | "consent";
  attr: "unconditional" | "conditional";
  derivation_id?: string;
  approved_at: string;
}

/** GatePage is the JSON format of a delivery: one page of rows. */
export interface GatePage {
  resource_id: string;
  grant_id: string;
  delivery_id: string;
  fields: string[];
  rows: Record<string, unknown>[];
  count: number;
  next_cursor: string;
}

/** A gate grant (GET /api/v1/grants), as far as the open pages need it. */
export interface OpenGrant {
  id: string;
  resource_id: string;
  grantee_org_id: string;
  fields: string[];
  purpose: string;
  kind: string;
  case_id?: string;
  expires_at?: string;
  state: "active" | "suspended" | "terminated";
}

export function openDataPath(resourceId: string): string {
  return `/api/v1/open/data/${encodeURIComponent(resourceId)}`;
}

/** Receipt is what the gate's headers say about one delivery. */
export interface Receipt {
  deliveryId: string;
  grantId: string;
  records: number;
  sha256: string;
  nextCursor: string;
  fileName: string;
}

function fileNameOf(res: Response, fallback: string): string {
  const cd = res.headers.get("Content-Disposition") ?? "";
  const m = cd.match(/filename\*?=(?:UTF-8'')?"?([^";]+)"?/i);
  return m ? decodeURIComponent(m[1]) : fallback;
}

/**
 * downloadOpen fetches a delivery (so that refusals such as the rate limit
 * show as messages, not as a broken file) and hands it to the browser as a
 * file. grant names the caller's grant for conditional entries.
 */
export async function downloadOpen(resourceId: string, code: string, format: OpenFormat, grant?: string): Promise<Receipt> {
  const res = await request(openDataPath(resourceId), { query: { format, grant } });
  const h = res.headers;
  const receipt: Receipt = {
    deliveryId: h.get("Shuqiao-Delivery-Id") ?? "",
    grantId: h.get("Shuqiao-Grant-Id") ?? "",
    records: Number(h.get("Shuqiao-Records") ?? 0),
    sha256: h.get("Shuqiao-Content-Sha256") ?? "",
    nextCursor: h.get("Shuqiao-Next-Cursor") ?? "",
    fileName: fileNameOf(res, `${code || resourceId}-${h.get("Shuqiao-Delivery-Id") ?? "data"}.${format}`),
  };
  const blob = await res.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = receipt.fileName;
  a.rel = "noopener";
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  return receipt;
}

/** previewOpen reads the first rows as JSON (a delivery like any other). */
export function previewOpen(resourceId: string, limit: number, signal?: AbortSignal, grant?: string): Promise<GatePage> {
  return api<GatePage>(openDataPath(resourceId), { query: { format: "json", limit, grant, preview: true }, signal });
}

export function applyOpen(a: OpenApplication): Promise<Case> {
  return api<Case>("/api/v1/open/applications", { body: a });
}

export function requestOpen(resourceId: string, note: string): Promise<{ status: string }> {
  return api<{ status: string }>("/api/v1/open/requests", { body: { resource_id: resourceId, note } });
}

export function issueOpenKey(name: string, contact: string): Promise<OpenKey> {
  return api<OpenKey>("/api/v1/open/keys", { body: { name, contact } });
}

/**
 * myOpenGrants lists the caller's own active open grants on a resource: the
 * grants of approved applications the caller filed. An application's grant
 * is the applicant's alone (open.not_applicant for colleagues), so grants of
 * cases the caller cannot see, or did not file, are left out.
 */
export async function myOpenGrants(resourceId: string, me: Me, signal?: AbortSignal): Promise<OpenGrant[]> {
  const r = await api<{ items: OpenGrant[] }>("/api/v1/grants", { query: { resource: resourceId, org: me.org.id, kind: "open", state: "active" }, signal });
  const live = r.items.filter((g) => g.grantee_org_id === me.org.id && g.state === "active" && g.case_id && (!g.expires_at || new Date(g.expires_at) > new Date()));
  const mine = await Promise.all(
    live.map(async (g) => {
      try {
        const c = await api<Case>(`/api/v1/cases/${encodeURIComponent(g.case_id!)}`, { signal });
        return c.applicant.id === (me.user_id || me.client_id) ? g : undefined;
      } catch (e) {
        if ((e as Error).name === "AbortError") throw e;
        return undefined;
      }
    }),
  );
  return mine.filter((g): g is OpenGrant => !!g);
}
