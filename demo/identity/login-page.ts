import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OidcProvider } from './provider.ts';

/**
 * The demo provider's login page: where a real identity provider shows a form, this one signs in the
 * user named by login_hint at once, if the demo knows them, and sends the browser back to the provider,
 * which continues the authorization code flow. Nothing else about the flow is simplified.
 */
export async function signInAtOnce(
  provider: OidcProvider,
  knownUsers: ReadonlySet<string>,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const details = await provider.interactionDetails(request, response);
  const accountId = String(details.params['login_hint'] ?? '');
  if (details.prompt.name !== 'login' || !knownUsers.has(accountId)) {
    response.statusCode = 400;
    response.setHeader('content-type', 'text/plain');
    response.end(
      details.prompt.name !== 'login'
        ? `the demo identity provider has no page for the ${details.prompt.name} prompt\n`
        : `the demo identity provider signs in ${[...knownUsers].join(' or ')} (login_hint); got "${accountId}"\n`,
    );
    return;
  }
  await provider.interactionFinished(
    request,
    response,
    { login: { accountId } },
    { mergeWithLastSubmission: false },
  );
}
