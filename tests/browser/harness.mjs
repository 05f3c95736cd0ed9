// Shared by the browser tests: the server under test as a child process
// (its JSON log parsed, so tests can wait for events), and Chromium launched
// headless with the server's own certificate pinned.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const BIN = path.resolve(
  process.env.FINTECHAPI_BIN || path.join(HERE, '..', '..', 'target', 'debug', 'fintechapi'),
);
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const STARTUP_TIMEOUT_MS = 60_000;

// ---------------------------------------------------------------- server

export class Server {
  constructor(bin, dataDir, extraArgs = ['--no-demo']) {
    this.bin = bin;
    this.dataDir = dataDir;
    this.extraArgs = extraArgs;
    this.logLines = []; // raw stderr lines
    this.events = []; // parsed JSON log lines
    this.stdout = '';
    this.waiters = [];
  }

  start() {
    if (!fs.existsSync(this.bin)) {
      throw new Error(
        `server binary not found: ${this.bin} (build it, or set FINTECHAPI_BIN)`,
      );
    }
    this.proc = spawn(
      this.bin,
      ['serve', '--data-dir', this.dataDir, '--listen', '127.0.0.1:0', ...this.extraArgs, '--log-format', 'json'],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } },
    );
    this.exited = once(this.proc, 'exit');
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (d) => { this.stdout += d; });
    readline.createInterface({ input: this.proc.stderr }).on('line', (line) => {
      this.logLines.push(line);
      let ev;
      try { ev = JSON.parse(line); } catch { return; }
      this.events.push(ev);
      for (const w of [...this.waiters]) w.check(ev);
    });
    this.proc.on('exit', (code, signal) => {
      for (const w of [...this.waiters]) {
        w.fail(new Error(`server exited early (code ${code}, signal ${signal})\n${this.tail()}`));
      }
    });
  }

  /** Resolves with the first log event (past or future) that matches `pred`. */
  waitFor(pred, timeoutMs, what) {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
      return Promise.reject(new Error(`server is not running\n${this.tail()}`));
    }
    return new Promise((resolve, reject) => {
      const w = {
        check: (ev) => { if (pred(ev)) { done(); resolve(ev); } },
        fail: (err) => { done(); reject(err); },
      };
      const timer = setTimeout(
        () => w.fail(new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${this.tail()}`)),
        timeoutMs,
      );
      const done = () => { clearTimeout(timer); this.waiters = this.waiters.filter((x) => x !== w); };
      this.waiters.push(w);
    });
  }

  tail(n = 30) {
    return `--- last server log lines ---\n${this.logLines.slice(-n).join('\n')}`;
  }

  async stop() {
    if (!this.proc || this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** base64(SHA-256(SubjectPublicKeyInfo DER)) of the first certificate in a PEM file. */
export function spkiHash(pemFile) {
  const cert = new X509Certificate(fs.readFileSync(pemFile));
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(spki).digest('base64');
}


/** Starts `server` and returns its base URL, e.g. https://localhost:40123. */
export async function startServer(server) {
  server.start();
  const up = await server.waitFor((ev) => ev.message === 'serving HTTPS', STARTUP_TIMEOUT_MS, '"serving HTTPS"');
  return `https://localhost:${up.addr.split(':').pop()}`;
}

/** Headless Chromium that trusts exactly the server's certificate (SPKI pin). */
export async function launchChromium(dataDir) {
  const pin = spkiHash(path.join(dataDir, 'tls', 'server.pem'));
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--ignore-certificate-errors-spki-list=${pin}`,
    ],
  });
}

// ---------------------------------------------------------------- the TPP's side

/** `fintechapi --data-dir dataDir …args`, which must succeed: its output. */
export function runCli(dataDir, ...args) {
  const run = spawnSync(BIN, ['--data-dir', dataDir, ...args], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout;
}

/** A request of a TPP to the server at `base`, trusting only its development CA. */
export function tppRequest(base, dataDir, method, pathname, { headers = {}, form, json, auth } = {}) {
  const body = form ? new URLSearchParams(form).toString() : json ? JSON.stringify(json) : undefined;
  const type = form ? 'application/x-www-form-urlencoded' : 'application/json';
  return new Promise((resolve, reject) => {
    const req = https.request(`${base}${pathname}`, {
      method,
      ca: fs.readFileSync(path.join(dataDir, 'tls', 'dev-ca.pem')),
      auth,
      headers: { ...(body ? { 'content-type': type } : {}), ...headers },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: JSON.parse(text || 'null') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
