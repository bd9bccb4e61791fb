// A real OpenID Provider for tokendesk's sign-in tests and for trying sign-in through a provider
// locally: panva's oidc-provider (OpenID Certified), on 127.0.0.1, with one static client
// (tokendesk) and two people. It uses oidc-provider's own development login and consent forms,
// which accept any password: never expose it beyond this machine.
//
// Environment:
//   PORT           port to listen on (0 or unset: a free one)
//   RP_URL         tokendesk's address, e.g. http://127.0.0.1:8080 (redirect, post-logout and
//                  back-channel logout URIs hang off it)
//   CLIENT_ID      tokendesk's client id (default "tokendesk")
//   CLIENT_SECRET  its secret (required)
//   TEST_CONTROLS  "1": also serve /__test/sign and /__test/tamper (tests only; see below)
//
// When it listens it prints one JSON line, {"issuer": "http://127.0.0.1:PORT"}. It exits when
// its standard input closes, so it never outlives the process that started it.

import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';

import Provider from 'oidc-provider';
import { CompactSign, exportJWK, generateKeyPair, calculateJwkThumbprint } from 'jose';

// The two people: Alice is an end user, Sasha is support staff (the tokendesk-support group).
const PEOPLE = {
  alice: {
    sub: 'alice',
    name: 'Alice Moreau',
    preferred_username: 'alice',
    zoneinfo: 'Europe/Paris',
    groups: ['staff-newsletter'],
  },
  sasha: {
    sub: 'sasha',
    name: 'Sasha Lindqvist',
    preferred_username: 'sasha',
    zoneinfo: 'America/New_York',
    groups: ['staff', 'tokendesk-support'],
  },
};

const rpUrl = (process.env.RP_URL || 'http://127.0.0.1:8080').replace(/\/$/, '');
const clientId = process.env.CLIENT_ID || 'tokendesk';
const clientSecret = process.env.CLIENT_SECRET;
if (!clientSecret) {
  console.error('CLIENT_SECRET is required');
  process.exit(2);
}
const controls = process.env.TEST_CONTROLS === '1';

// A fresh signing key per start: a restarted provider has rotated its key.
const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const jwk = await exportJWK(privateKey);
jwk.kid = await calculateJwkThumbprint(jwk);
jwk.alg = 'RS256';
jwk.use = 'sig';

const server = createServer();
await new Promise((resolve) => server.listen(Number(process.env.PORT || 0), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    client_name: 'tokendesk',
    redirect_uris: [`${rpUrl}/auth/oidc/callback`],
    post_logout_redirect_uris: [`${rpUrl}/login`],
    backchannel_logout_uri: `${rpUrl}/auth/backchannel-logout`,
    backchannel_logout_session_required: true,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username', 'zoneinfo'],
    groups: ['groups'],
  },
  features: {
    devInteractions: { enabled: true },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  async findAccount(ctx, id) {
    const person = PEOPLE[id];
    if (!person) return undefined;
    return { accountId: id, async claims() { return { ...person }; } };
  },
  // oidc-provider refuses outgoing requests to loopback addresses (SSRF protection); the
  // back-channel logout goes to tokendesk on 127.0.0.1, so the guard is lifted here.
  fetch(url, options) {
    const { dispatcher, ...rest } = options;
    return globalThis.fetch(url, rest);
  },
});

// Test-only controls. POST /__test/sign {header, payload} answers {token}: the payload signed
// with the provider's own key (to send logout tokens that break one rule at a time).
// POST /__test/tamper {mode} makes the next token response carry an altered ID token:
// "payload" swaps its subject (keeping the signature), "signature" damages the signature,
// "none" re-labels it as unsigned.
let tamper = null;
async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
}
const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
function tampered(idToken, mode) {
  const [header, payload, signature] = idToken.split('.');
  if (mode === 'payload') {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    claims.sub = claims.sub === 'sasha' ? 'alice' : 'sasha';
    return `${header}.${b64(claims)}.${signature}`;
  }
  if (mode === 'signature') {
    const i = Math.floor(signature.length / 2);
    const swapped = signature[i] === 'A' ? 'B' : 'A';
    return `${header}.${payload}.${signature.slice(0, i)}${swapped}${signature.slice(i + 1)}`;
  }
  if (mode === 'none') {
    return `${b64({ alg: 'none', typ: 'JWT' })}.${payload}.`;
  }
  return idToken;
}

provider.use(async (ctx, next) => {
  if (controls && ctx.method === 'POST' && ctx.path === '/__test/sign') {
    const { header = {}, payload = {} } = await readJson(ctx.req);
    const token = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
      .setProtectedHeader({ alg: 'RS256', kid: jwk.kid, ...header })
      .sign(privateKey);
    ctx.body = { token };
    return;
  }
  if (controls && ctx.method === 'POST' && ctx.path === '/__test/tamper') {
    ({ mode: tamper = null } = await readJson(ctx.req));
    ctx.body = { tamper };
    return;
  }
  await next();
  if (tamper && ctx.path === '/token' && ctx.body && typeof ctx.body.id_token === 'string') {
    ctx.body = { ...ctx.body, id_token: tampered(ctx.body.id_token, tamper) };
    tamper = null;
  }
});

server.on('request', provider.callback());
process.stdout.write(`${JSON.stringify({ issuer, kid: jwk.kid })}\n`);
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
