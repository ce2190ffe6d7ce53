import type { z } from 'zod';
import { GROUP, MCP_SERVER_KIND, TOOL_POLICY_KIND, VERSION } from '../v1alpha1/group.ts';
import { mcpServerSpec, mcpServerStatus } from '../v1alpha1/mcpserver.ts';
import { toolPolicySpec, toolPolicyStatus } from '../v1alpha1/toolpolicy.ts';
import { mcpServerRootRules } from '../v1alpha1/resources.ts';
import { celRuleForCrd } from '../v1alpha1/schema-doc.ts';
import { structuralSchemaOf, type JsonSchema } from './structural.ts';

interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'date' | 'boolean';
  jsonPath: string;
  description: string;
  priority?: number;
}

interface CrdSource {
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  description: string;
  spec: z.ZodType;
  status: z.ZodType;
  /** Rules over the whole object (only metadata.name and spec/status are visible to CEL here). */
  rootValidations?: readonly object[];
  columns: PrinterColumn[];
}

const conditionColumn = (name: string, type: string, description: string): PrinterColumn => ({
  name,
  type: 'string',
  jsonPath: `.status.conditions[?(@.type=="${type}")].status`,
  description,
});

const age: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
  description: 'Time since creation.',
};

export const crdSources: readonly CrdSource[] = [
  {
    kind: MCP_SERVER_KIND,
    plural: 'mcpservers',
    singular: 'mcpserver',
    shortNames: ['mcps'],
    description:
      'An MCP server run behind a Portcullis sidecar, its only entrance. The operator reconciles it into a Deployment, ' +
      'Service, ServiceAccount, RBAC, NetworkPolicy and a compiled policy bundle. Kill switches are annotations: ' +
      'portcullis.dev/kill-switch (whole server) and portcullis.dev/killed-tools (named tools); status.killSwitch ' +
      'shows every switch in force, with since when, why and who, and the last release.',
    spec: mcpServerSpec,
    status: mcpServerStatus,
    rootValidations: mcpServerRootRules.map(celRuleForCrd),
    columns: [
      conditionColumn('Ready', 'Ready', 'The server is reachable through its sidecar with current policy.'),
      {
        name: 'Killed',
        type: 'boolean',
        jsonPath: '.status.killSwitch.engaged',
        description: 'A kill switch refuses all or some calls (status.killSwitch.switches says which).',
      },
      {
        name: 'Tools',
        type: 'integer',
        jsonPath: '.status.servedTools',
        description: 'Tools served: published, not quarantined, not killed (empty until sidecars report).',
      },
      {
        name: 'Policy',
        type: 'string',
        jsonPath: '.status.policyHash',
        description: 'Hash of the compiled policy bundle.',
      },
      {
        name: 'Transport',
        type: 'string',
        jsonPath: '.spec.transport.type',
        description: 'Upstream transport.',
      },
      {
        name: 'Endpoint',
        type: 'string',
        jsonPath: '.status.endpoint',
        description: 'In-cluster URL.',
        priority: 1,
      },
      {
        name: 'Killed Since',
        type: 'date',
        jsonPath: '.status.killSwitch.since',
        description: 'Since when the earliest kill switch still engaged has been engaged.',
        priority: 1,
      },
      {
        name: 'Kill Reason',
        type: 'string',
        jsonPath: '.status.killSwitch.reason',
        description: 'Who engaged the hardest-biting kill switch, and why.',
        priority: 1,
      },
      age,
    ],
  },
  {
    kind: TOOL_POLICY_KIND,
    plural: 'toolpolicies',
    singular: 'toolpolicy',
    shortNames: ['tp'],
    description:
      'Who may call which tools of the targeted McpServers, under which conditions and limits. Default deny: a call ' +
      'needs a matching Allow rule and no matching Deny rule. portcullis.dev/kill-switch on a ToolPolicy refuses every tool it selects.',
    spec: toolPolicySpec,
    status: toolPolicyStatus,
    columns: [
      { name: 'Mode', type: 'string', jsonPath: '.spec.mode', description: 'Enforce or Audit (shadow).' },
      conditionColumn('Accepted', 'Accepted', 'The policy compiled and its targets resolved.'),
      {
        name: 'Servers',
        type: 'integer',
        jsonPath: '.status.serverCount',
        description: 'McpServers it applies to.',
      },
      age,
    ],
  },
];

function crdFor(source: CrdSource): JsonSchema {
  const openAPIV3Schema: JsonSchema = {
    type: 'object',
    description: source.description,
    required: ['spec'],
    properties: {
      apiVersion: {
        type: 'string',
        description: 'The versioned schema of this representation of an object.',
      },
      kind: { type: 'string', description: 'The REST resource this object represents.' },
      metadata: { type: 'object' },
      spec: structuralSchemaOf(source.spec),
      status: structuralSchemaOf(source.status),
    },
    ...(source.rootValidations ? { 'x-kubernetes-validations': source.rootValidations } : {}),
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${source.plural}.${GROUP}`,
      labels: { 'app.kubernetes.io/part-of': 'portcullis' },
    },
    spec: {
      group: GROUP,
      scope: 'Namespaced',
      names: {
        kind: source.kind,
        listKind: `${source.kind}List`,
        plural: source.plural,
        singular: source.singular,
        shortNames: source.shortNames,
        categories: ['portcullis', 'mcp'],
      },
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: source.columns,
          schema: { openAPIV3Schema },
        },
      ],
    },
  };
}

/** The CustomResourceDefinitions, keyed by the file name they are written to under crds/. */
export function generateCrds(): Map<string, JsonSchema> {
  return new Map(crdSources.map((source) => [`${GROUP}_${source.plural}.yaml`, crdFor(source)]));
}
