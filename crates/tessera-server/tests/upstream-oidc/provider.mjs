// A real OpenID Connect provider (panva/oidc-provider) for the upstream sign-in tests
// (crates/tessera-server/tests/it/upstream_oidc.rs), run with the machine's Node.js:
//
//   node provider.mjs PORT CONFIG_JSON
//
// CONFIG_JSON: {"client_id", "client_secret", "redirect_uris": [...], "key_files": [PEM path,
// ...] (RSA private keys, kid = the file name without extension),
// "accounts": {"<id>": {"preferred_username", "groups": [...]}}}. The first key signs. The
// provider's own development sign-in form takes any password; the login is the account id.
// Prints "listening <issuer>" once it accepts connections.
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import Provider from 'oidc-provider';

const [port, raw] = process.argv.slice(2);
const config = JSON.parse(raw);
const issuer = `http://127.0.0.1:${port}`;
const keys = config.key_files.map((file) => ({
  ...createPrivateKey(readFileSync(file)).export({ format: 'jwk' }),
  kid: basename(file).replace(/\..*$/, ''),
  alg: 'RS256',
  use: 'sig',
}));

const provider = new Provider(issuer, {
  clients: [{
    client_id: config.client_id,
    client_secret: config.client_secret,
    redirect_uris: config.redirect_uris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys },
  pkce: { required: () => true },
  claims: { openid: ['sub'], profile: ['preferred_username', 'groups'] },
  scopes: ['openid', 'profile'],
  features: { devInteractions: { enabled: true } },
  findAccount: async (ctx, id) => {
    const account = config.accounts[id];
    if (!account) return undefined;
    return {
      accountId: id,
      claims: async () => ({ sub: id, ...account }),
    };
  },
  cookies: { keys: ['tessera-upstream-test-cookie-key'] },
});
provider.proxy = false;

provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`listening ${issuer}`);
});
