// The peer of bench/run: node-oidc-provider (in-memory adapter) answering
// client_credentials grants and introspection over HTTPS, TLS 1.3.
// Usage: node server.mjs <port> <cert PEM> <key PEM> <client_id> <client_secret>
import { readFileSync } from 'node:fs';
import https from 'node:https';
import Provider from 'oidc-provider';

const [port, cert, key, clientId, clientSecret] = process.argv.slice(2);
if (!clientSecret) {
  console.error('usage: node server.mjs <port> <cert PEM> <key PEM> <client_id> <client_secret>');
  process.exit(2);
}

const provider = new Provider(`https://localhost:${port}`, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  scopes: ['ais', 'pis', 'piis'],
  features: {
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    devInteractions: { enabled: false },
  },
  ttl: { ClientCredentials: 300 },
  routes: { token: '/oauth2/token', introspection: '/oauth2/introspect' },
});
provider.proxy = true;

const server = https.createServer({
  cert: readFileSync(cert),
  key: readFileSync(key),
  minVersion: 'TLSv1.3',
}, provider.callback());
server.keepAliveTimeout = 90_000;
server.listen(Number(port), '127.0.0.1', () => console.log(`listening on ${port}`));
