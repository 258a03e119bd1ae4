import dayjs from "dayjs";

export function fmtDate(s?: string | null): string {
  return s ? dayjs(s).format("YYYY-MM-DD") : "—";
}

export function fmtTime(s?: string | null): string {
  return s ? dayjs(s).format("YYYY-MM-DD HH:mm") : "—";
}

/** daysLeft is whole days until a deadline; negative when it has passed. */
export function daysLeft(deadline?: string): number | undefined {
  if (!deadline) return undefined;
  return Math.floor((dayjs(deadline).valueOf() - Date.now()) / 86400000);
}
