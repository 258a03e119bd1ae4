// UI strings for the open pages: [中文, English]; merged into src/strings.ts.
export const openStrings: Record<string, [string, string]> = {
};
