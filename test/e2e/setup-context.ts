// Setup file of the e2e project: the helpers' cluster is the one the global setup provided.
import { inject } from 'vitest';
import { useCluster } from './context.ts';

useCluster(inject('cluster'));
