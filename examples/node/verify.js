#!/usr/bin/env node
// Verify Sixtyfour webhook signatures with the Node.js (20+) standard library only.
//
//   Sixtyfour-Signature: t=<unix_seconds>,v1=<hex>[,v1=<hex>]
//
// Each v1 is the lowercase hex HMAC-SHA256 of "<t>." + raw body bytes, keyed
// with the UTF-8 bytes of the whole secret string ("sk_whsec_..." prefix
// included). During a secret rotation the header carries two v1 values (new
// first, old second), so parse every v1: never put the header into an object.
//
// Usage:
//   node verify.js check   read {"header", "body_b64", "secrets", "now"} as JSON
//                          on stdin, print "ok" or "fail: <reason>"
//   node verify.js serve   run a receiver with node:http
//                          (env SIGNING_SECRETS, LISTEN_ADDR=127.0.0.1:8083)
'use strict';

const crypto = require('node:crypto');
const http = require('node:http');

const HEADER_NAME = 'Sixtyfour-Signature';
const DEFAULT_TOLERANCE = 300; // seconds, both directions
const MAX_BODY_BYTES = 1 << 20;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * Check a Sixtyfour-Signature header against the raw request body.
 *
 * @param {string} header the header value
 * @param {Buffer} rawBody the exact bytes received, before any JSON parsing
 * @param {string[]} secrets current secret and, during a rotation, the
 *   previous one; empty strings are ignored
 * @param {number} [now] Unix seconds; defaults to the current time
 * @param {number} [tolerance=300] seconds; a distance of exactly tolerance is ok
 * @throws {Error} whose message starts with one of "missing signature header",
 *   "malformed signature header", "timestamp outside tolerance",
 *   "no matching signature"
 */
function verify(header, rawBody, secrets, now, tolerance = DEFAULT_TOLERANCE) {
  if (!header) throw new Error('missing signature header');
  const { t, signatures } = parse(header);
  const nowSec = BigInt(now ?? Math.floor(Date.now() / 1000));
  const distance = nowSec > t ? nowSec - t : t - nowSec; // BigInt: exact for any int64
  if (distance > BigInt(tolerance)) {
    throw new Error(`timestamp outside tolerance: t=${t} is ${distance}s from now`);
  }
  const keys = secrets.filter((s) => s);
  if (keys.length === 0) throw new Error('no matching signature: no secrets configured');
  for (const secret of keys) {
    const expected = Buffer.from(
      crypto.createHmac('sha256', Buffer.from(secret, 'utf8'))
        .update(`${t}.`)
        .update(rawBody)
        .digest('hex'),
      'ascii',
    );
    for (const sig of signatures) {
      const got = Buffer.from(sig, 'utf8');
      // timingSafeEqual throws on different lengths; the length is not secret.
      if (got.length === expected.length && crypto.timingSafeEqual(got, expected)) return;
    }
  }
  throw new Error('no matching signature');
}

// parse returns {t: BigInt, signatures: string[]}; segments split on ",",
// key/value on the first "=", no trimming; unknown schemes (v0, ...) ignored.
function parse(header) {
  let t = null;
  const signatures = [];
  header.split(',').forEach((segment, i) => {
    const n = i + 1;
    if (segment === '') throw new Error(`malformed signature header: segment ${n} is empty`);
    const eq = segment.indexOf('=');
    if (eq < 0) throw new Error(`malformed signature header: segment ${n} has no '='`);
    const key = segment.slice(0, eq);
    const value = segment.slice(eq + 1);
    if (key === 't') {
      if (t !== null) throw new Error(`malformed signature header: segment ${n} repeats t`);
      t = parseUnixSeconds(value);
    } else if (key === 'v1') {
      signatures.push(value);
    }
  });
  if (t === null) throw new Error('malformed signature header: no t segment');
  if (signatures.length === 0) throw new Error('malformed signature header: no v1 segment');
  return { t, signatures };
}

// parseUnixSeconds: an optional "-" then 1 to 19 ASCII digits, fitting an int64 (as in Go).
function parseUnixSeconds(value) {
  if (!/^-?[0-9]{1,19}$/.test(value)) {
    throw new Error('malformed signature header: t is not a decimal integer');
  }
  const t = BigInt(value);
  if (t < INT64_MIN || t > INT64_MAX) {
    throw new Error('malformed signature header: t does not fit in int64');
  }
  return t;
}

// check is the "check" mode used by examples_test.go; returns the exit code.
async function check() {
  let req;
  try {
    const chunks = [];
    for await (const chunk of process.stdin) chunks.push(chunk);
    req = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const okInt = (v) => v === undefined || v === null || Number.isSafeInteger(v);
    if (typeof (req.header ?? '') !== 'string' || !Array.isArray(req.secrets ?? [])
      || !(req.secrets ?? []).every((s) => typeof s === 'string')
      || typeof (req.body_b64 ?? '') !== 'string' || !okInt(req.now) || !okInt(req.tolerance)) {
      throw new Error('want {"header": str, "body_b64": str, "secrets": [str], "now": int}');
    }
  } catch (err) {
    process.stderr.write(`usage error: ${err.message}\n`);
    return 2;
  }
  try {
    verify(req.header ?? '', Buffer.from(req.body_b64 ?? '', 'base64'), req.secrets ?? [],
      req.now ?? undefined, req.tolerance || DEFAULT_TOLERANCE);
  } catch (err) {
    process.stdout.write(`fail: ${err.message}\n`);
    return 0;
  }
  process.stdout.write('ok\n');
  return 0;
}

// serve runs a minimal receiver: verify, dedupe on Sixtyfour-Event-Id, answer 204.
function serve() {
  const secrets = (process.env.SIGNING_SECRETS ?? '').split(',').map((s) => s.trim()).filter((s) => s);
  if (secrets.length < 1 || secrets.length > 2) {
    process.stderr.write('SIGNING_SECRETS: want 1 or 2 comma-separated secrets\n');
    return 2;
  }
  const addr = process.env.LISTEN_ADDR || '127.0.0.1:8083';
  const sep = addr.lastIndexOf(':');
  const seen = new Set(); // a real receiver uses a store with a TTL

  const server = http.createServer((req, res) => {
    const answer = (status) => { res.writeHead(status, { 'Content-Length': '0' }).end(); };
    if (req.method !== 'POST') return answer(405);
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk); // past the cap: drain, keep nothing
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) return answer(413);
      const rawBody = Buffer.concat(chunks); // raw bytes: verify before JSON.parse
      try {
        verify(req.headers[HEADER_NAME.toLowerCase()] ?? '', rawBody, secrets);
      } catch (err) {
        console.error(`rejected: ${err.message}`);
        return answer(400);
      }
      const eventId = req.headers['sixtyfour-event-id'];
      if (!eventId) return answer(400);
      const duplicate = seen.has(eventId);
      seen.add(eventId);
      console.error(`${duplicate ? 'duplicate' : 'accepted'} event_id=${eventId}`
        + ` type=${req.headers['sixtyfour-event-type'] ?? ''}`
        + ` attempt=${req.headers['sixtyfour-delivery-attempt'] ?? ''}`);
      return answer(204);
    });
  });
  server.listen(Number(addr.slice(sep + 1)), addr.slice(0, sep) || '127.0.0.1', () => {
    console.error(`listening on ${addr}`);
  });
  return null; // keep running
}

module.exports = { verify, HEADER_NAME, DEFAULT_TOLERANCE };

if (require.main === module) {
  const mode = process.argv.length === 3 ? process.argv[2] : '';
  if (mode === 'check') {
    check().then((code) => { process.exitCode = code; });
  } else if (mode === 'serve') {
    const code = serve();
    if (code !== null) process.exitCode = code;
  } else {
    process.stderr.write('usage: node verify.js check|serve\n');
    process.exitCode = 2;
  }
}
