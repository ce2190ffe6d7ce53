import { z } from 'zod';
import { isQuantity } from './formats.ts';
import { doc } from './schema-doc.ts';

/** RFC 1123 label: names of Kubernetes objects we reference or create. */
export const dnsLabel = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);

/** An MCP tool name as servers publish it (the 2025-11-25 revision's character set, bounded). */
export const toolName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.\-/]+$/);

/** A tool name or a glob over tool names (`*` any run of characters, `?` one character). */
export const toolPattern = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_.\-/*?]+$/);

/** A Kubernetes resource quantity such as `1Mi` or `500m`, validated by the API server's own parser. */
export const quantity = (description: string) =>
  doc(z.union([z.string().max(32), z.int()]), description, {
    intOrString: true,
    validations: [
      {
        rule: 'isQuantity(string(self))',
        message: 'must be a Kubernetes quantity such as 512Ki or 1Mi',
        check: (self) => isQuantity(self),
      },
    ],
  });

export const secretKeyRef = z.strictObject({
  name: doc(dnsLabel, 'Name of a Secret in the same namespace as this object.'),
  key: doc(
    z
      .string()
      .min(1)
      .max(253)
      .regex(/^[-._a-zA-Z0-9]+$/),
    'Key within the Secret.',
  ),
});

export const configMapKeyRef = z.strictObject({
  name: doc(dnsLabel, 'Name of a ConfigMap in the same namespace as this object.'),
  key: doc(
    z
      .string()
      .min(1)
      .max(253)
      .regex(/^[-._a-zA-Z0-9]+$/),
    'Key within the ConfigMap.',
  ),
});

export const labelSelectorRequirement = z.strictObject({
  key: doc(z.string().min(1).max(317), 'The label key the selector applies to.'),
  operator: doc(z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']), 'How the key relates to the values.'),
  values: doc(
    z.array(z.string().max(63)).max(64).optional(),
    'Values for In and NotIn; must be empty for Exists and DoesNotExist.',
  ),
});

export const labelSelector = z.strictObject({
  matchLabels: doc(
    z.record(z.string().max(317), z.string().max(63)).optional(),
    'Labels that must all be present with these values.',
    {
      validations: [
        {
          rule: 'self.size() <= 32',
          message: 'at most 32 matchLabels',
          check: (m) => Object.keys(m).length <= 32,
        },
      ],
    },
  ),
  matchExpressions: doc(
    z
      .array(
        doc(labelSelectorRequirement, 'One label requirement.', {
          validations: [
            {
              rule: "self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : (!has(self.values) || size(self.values) == 0)",
              message: 'In and NotIn need at least one value; Exists and DoesNotExist take none',
              check: (r) =>
                ['In', 'NotIn'].includes(r.operator)
                  ? (r.values?.length ?? 0) > 0
                  : (r.values?.length ?? 0) === 0,
            },
          ],
        }),
      )
      .max(16)
      .optional(),
    'Label requirements that must all hold.',
  ),
});

/** metav1.Condition, so `kubectl wait --for=condition=Ready` and every dashboard understand ours. */
export const condition = z.strictObject({
  type: doc(
    z
      .string()
      .max(316)
      .regex(
        /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$/,
      ),
    'Type of condition in CamelCase, for example Ready.',
  ),
  status: doc(z.enum(['True', 'False', 'Unknown']), 'Status of the condition.'),
  observedGeneration: doc(
    z.int().min(0).optional(),
    'The metadata.generation this condition was computed from; older than metadata.generation means stale.',
  ),
  lastTransitionTime: doc(
    z.string().max(64),
    'When the condition last changed status (RFC 3339); kept when the status did not change.',
    { format: 'date-time' },
  ),
  reason: doc(
    z
      .string()
      .min(1)
      .max(1024)
      .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/),
    'A CamelCase, machine-readable reason for the last transition.',
  ),
  message: doc(z.string().max(32768), 'A human-readable explanation of the condition.'),
});

export const conditions = doc(
  z.array(condition).max(16).optional(),
  'The latest observations of the object, one per condition type.',
  { listMapKeys: ['type'] },
);

export type Condition = z.infer<typeof condition>;
export type LabelSelector = z.infer<typeof labelSelector>;
export type SecretKeyRef = z.infer<typeof secretKeyRef>;
export type ConfigMapKeyRef = z.infer<typeof configMapKeyRef>;
