import { PUBLIC_REASON_MAX } from '../../api/v1alpha1/annotations.ts';
import { MAX_REASON } from './kill-flags.ts';

const TARGETS = `Targets:
  mcpserver/NAME          the McpServer (also server/NAME): every call to it is refused
  mcpserver/NAME --tool T only the named tools on that server (--tool a,b or repeated --tool)
  toolpolicy/NAME         every tool the ToolPolicy selects, on every server it targets
  namespace/NAME          every McpServer in the namespace`;

const COMMON = `  -n, --namespace NS      namespace of the McpServer or ToolPolicy (default: the kubeconfig context's
                          namespace, else default)
  --dry-run               print the change and the merge patch; write nothing
  -o, --output FORMAT     json or yaml: the result as data (object, action, changed, summary, patch);
                          default a sentence
  --kubeconfig FILE       kubeconfig to use (default: $KUBECONFIG, else ~/.kube/config)
  --context NAME          the kubeconfig context to use
  -h, --help              show this help`;

export const KILL_HELP = `portcullis kill — engage a kill switch: calls are refused at once, by every sidecar

Usage:
  portcullis kill TARGET --reason TEXT [flags]

Examples:
  portcullis kill mcpserver/billing -n finance --reason "INC-4711 suspected exfiltration"
  portcullis kill server/code-hosting --tool delete_repo,force_push --reason "SEC-12 until reviewed"
  portcullis kill namespace/finance --reason "incident bridge: stop all finance tools"

${TARGETS}

Flags:
  --reason TEXT           why, required; one line, at most ${MAX_REASON} characters. Recorded for this
                          switch only: portcullis.dev/kill-reason for the object's switch, the tool's
                          entry of portcullis.dev/killed-tools-reasons for --tool. The name the API
                          server knows you by is recorded beside it (killed-by, or the entry's "by").
                          Status, Events and the audit trail show both ("alice: TEXT"); callers get
                          the code "killed" and the reason's first ${PUBLIC_REASON_MAX} characters, never your name
${COMMON}

The switch is the portcullis.dev/kill-switch annotation ("true"); tools go in
portcullis.dev/killed-tools, whose other names (and their reasons) are kept. When is recorded
too (portcullis.dev/killed-at, or the tool entry's "at"): status.killSwitch shows it as since. Only
metadata.annotations is written (a JSON merge patch), so patch on the object is the one permission needed (get too for --tool, which reads
the list and writes it back with the object's resourceVersion as a precondition, retrying on a
conflict). Killing what is already killed changes nothing and says so.

Exit codes: 0 engaged or already engaged, 1 failure (not found, forbidden, API server unreachable),
2 usage error.
`;

export const RELEASE_HELP = `portcullis release — release a kill switch

Usage:
  portcullis release TARGET [--reason TEXT] [flags]

Examples:
  portcullis release mcpserver/billing -n finance --reason "INC-4711 closed"
  portcullis release server/code-hosting --tool force_push

${TARGETS}

Flags:
  --reason TEXT           why; recorded with who you are and when (see below) and printed
${COMMON}

Release removes the annotation; it never writes "false" (a mistyped "false" would stay engaged).
Releasing mcpserver/NAME leaves its killed tools killed, with their own reasons; release those with
--tool. A switch's reason, killed-by and killed-at are removed with it. Releasing what is not engaged
changes nothing and says so.

The release is recorded on the object in the same patch: portcullis.dev/released-by (the name the
API server knows you by), released-at, release-reason (--reason) and, for --tool, released-tools.
The next release replaces them. status.killSwitch.lastRelease and the operator's KillSwitchReleased
Event (kubectl describe) show them; patch is still the one permission needed.

Exit codes: 0 released or not engaged, 1 failure (not found, forbidden, API server unreachable),
2 usage error.
`;
