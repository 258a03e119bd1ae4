// UI strings for the console pages: [中文, English]; merged into src/strings.ts.
export const consoleStrings: Record<string, [string, string]> = {
};
