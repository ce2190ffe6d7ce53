/**
 * Tool names the sidecar will decide on. MCP (2025-11-25) names tools with 1-128 ASCII letters, digits, `_`,
 * `-` and `.`; servers in the wild also use `/` and `:`. The sidecar accepts visible ASCII up to 128
 * characters and refuses the rest: a name with control characters, spaces, or look-alike letters from other
 * scripts can only be an attempt to make the policy and the server's dispatch table disagree.
 */
export const MAX_TOOL_NAME_LENGTH = 128;

export function toolNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'tools/call needs params.name';
  if (name.length > MAX_TOOL_NAME_LENGTH) return `tool names are at most ${MAX_TOOL_NAME_LENGTH} characters`;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return 'tool names are visible ASCII (letters, digits and punctuation)';
  }
  return undefined;
}
