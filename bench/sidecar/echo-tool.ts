/** The benchmark upstream's one tool, shared so the "everything on" policy can pin its digest. */
export const ECHO_TOOL = {
  name: 'echo',
  description: 'Echoes its payload.',
  inputSchema: {
    type: 'object',
    properties: { tenant: { type: 'string' }, payload: { type: 'string', maxLength: 4096 } },
    required: ['payload'],
  },
} as const;
