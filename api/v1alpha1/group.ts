/** The API group, version and the names every component agrees on. */
export const GROUP = 'portcullis.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

export const MCP_SERVER_KIND = 'McpServer';
export const TOOL_POLICY_KIND = 'ToolPolicy';
