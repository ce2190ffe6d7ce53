import { MAX_LIMIT } from './audit-flags.ts';

export const AUDIT_HELP = `portcullis audit — query the audit trail the collector keeps

Usage:
  portcullis audit [flags]

Examples:
  portcullis audit --tool read_invoice --tenant acme --since 7d   who called read_invoice for acme last week
  portcullis audit -A --decision denied --since 1h -o wide        every refusal of the last hour
  portcullis audit -n finance --server billing -f                 new events of one server as they arrive
  portcullis audit --user alice --since 2026-01-31T09:00:00Z -o jsonl | jq .tool

Filters (exact matches; all given must hold):
  --user SUBJECT          the verified caller (the token's sub)
  --agent ID              the verified agent (client id / azp)
  --tenant TENANT         the tenant
  --tool NAME             the tool called
  --server NAME           the McpServer
  -n, --namespace NS      the McpServer's namespace (default: the kubeconfig context's namespace, else
                          default)
  -A, --all-namespaces    every namespace (needs read access cluster-wide); not with -n
  --decision DECISION     allowed, denied, killed, errored, would_deny or quarantined
  --kind KIND             call, outcome, request, tool_contract, egress, kill_switch or policy
  --since TIME            events at or after TIME: a duration ago (30m, 24h, 7d; units ms s m h d, as
                          in 1h30m) or an RFC 3339 time with a zone (2026-01-31T09:00:00Z)
  --until TIME            events before TIME (same forms); after --since

Output:
  -o, --output FORMAT     table (default): TIME (UTC), NAMESPACE/SERVER, TOOL, USER, AGENT, TENANT,
                          DECISION, CODE/REASON, long values cut with "…"; wide: also REQUEST, POLICY
                          HASH, SEQ; json: one array of events as stored; jsonl: one event per line;
                          yaml: one sequence of events as stored
  --limit N               at most N events, 1 to ${MAX_LIMIT} (default 100; fetched in pages)
  --order desc|asc        newest first (default) or oldest first
  -f, --follow            print matching events as they arrive, in the order the collector stored
                          them, from --since (default: now) until Ctrl-C; not with --until, --limit,
                          --order or -o json. Follows the collector's ingest sequence, not event times:
                          an event stored late with an older time is shown too
  --interval DURATION     how often --follow asks the collector (default 2s; 100ms to 1h)

Collector and credentials:
  --collector URL         the collector's address (or PORTCULLIS_COLLECTOR_URL; required), e.g.
                          http://127.0.0.1:8080 with kubectl port-forward to the collector's Service
  --token TOKEN           bearer token to present (or PORTCULLIS_TOKEN; a flag shows in ps, the
                          variable and --token-file do not)
  --token-file FILE       read the bearer token from FILE
  --kubeconfig FILE       without a token, present the current kubeconfig user's (static, file, exec or
                          auth-provider); also the default namespace (default: $KUBECONFIG, else
                          ~/.kube/config)
  --context NAME          the kubeconfig context to use
  -h, --help              show this help

The collector checks the token with the API server and allows get on mcpservers/audit (group
portcullis.dev) in the namespace queried, or cluster-wide with -A. It takes bearer tokens only: for a
kubeconfig user with a client certificate, use 'kubectl create token <serviceaccount> -n <namespace>'.
The token is never printed. Without a token (none given, and no kubeconfig user with one) the query
goes out without one: a collector run with --query-auth none (loopback, development) answers it; one
that wants a token refuses, and the command says so and why none was found.

Exit codes: 0 success (also when nothing matched), 1 failure (the collector wants a token and has
none, collector unreachable, token refused, not allowed), 2 usage error (invalid flags, or a query the
collector calls invalid).
`;
