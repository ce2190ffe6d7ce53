export * from './group.ts';
export * from './annotations.ts';
export * from './kill-history.ts';
export * from './kill-switch-status.ts';
export * from './common.ts';
export * from './mcpserver.ts';
export * from './toolpolicy.ts';
export * from './resources.ts';
