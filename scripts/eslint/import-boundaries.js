// ESLint rule: a file in component A may import a project file in component B only if B is in
// mayImport[A]. Components are the top-level folders; imports are resolved against the importing
// file, so `../../operator/x.ts` from sidecar/stages/ is caught while sidecar/operator-client.ts is not.
import { dirname, relative, resolve, sep } from 'node:path';

function componentOf(root, file) {
  const rel = relative(root, file);
  if (rel.startsWith('..')) return undefined;
  return rel.split(sep)[0];
}

/** @type {import('eslint').Rule.RuleModule} */
export const importBoundaries = {
  meta: {
    type: 'problem',
    docs: { description: 'Enforce the dependency direction between components' },
    schema: [{ type: 'object', additionalProperties: true }],
    messages: {
      forbidden: '{{from}}/ must not import {{to}}/ (dependency direction, ARCHITECTURE.md section 4).',
    },
  },
  create(context) {
    const { root, mayImport, components } = context.options[0];
    const from = componentOf(root, context.filename);
    // Tests beside the code may use the shared fixtures under test/; production code never may.
    const isTest = context.filename.endsWith('.test.ts');
    const allowed = mayImport[from] && (isTest ? [...mayImport[from], 'test'] : mayImport[from]);
    if (!allowed) return {};
    const check = (node) => {
      const source = node.source?.value;
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const to = componentOf(root, resolve(dirname(context.filename), source));
      if (to && components.includes(to) && !allowed.includes(to)) {
        context.report({ node: node.source, messageId: 'forbidden', data: { from, to } });
      }
    };
    return {
      ImportDeclaration: check,
      ExportNamedDeclaration: check,
      ExportAllDeclaration: check,
      ImportExpression: check,
    };
  },
};
