import { useEffect, useState } from "react";
import { api, type CaseKind } from "../api";

/** Actions whose reason is required by the engine (refusals, returns, reports …). */
export const REASON_REQUIRED = new Set(["refuse", "return", "escalate", "report", "reopen", "resolve"]);
/** Actions that end or turn down something: shown as danger buttons. */
export const DANGER = new Set(["refuse", "withdraw", "reopen"]);

let kindsP: Promise<CaseKind[]> | null = null;

export function useCaseKinds(): CaseKind[] {
  const [k, setK] = useState<CaseKind[]>([]);
  useEffect(() => {
    kindsP ??= api<{ items: CaseKind[] }>("/api/v1/case-kinds")
      .then((r) => r.items)
      .catch((e) => {
        kindsP = null;
        throw e;
      });
    kindsP.then(setK, () => undefined);
  }, []);
  return k;
}
