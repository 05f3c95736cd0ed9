#!/usr/bin/env python3
"""Runs the cases of bench/run side by side and writes bench/results/<date>.{json,md}.

Every server is driven from outside only: the `fintechapi` binary through its
CLI, config file and HTTPS; the baseline and the peer through their command
lines. Load comes from wrk (HTTP/1.1 over TLS 1.3) on loopback, and for the
PSU's flows through the bank's pages from processes running `psu.py`. Server
CPU is the utime+stime delta of the server process over the case, divided by
the requests (or flows) served; RSS is VmRSS before the first case (idle) and
VmHWM at the end (peak).
"""

import argparse
import datetime
import json
import multiprocessing
import os
import re
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import dpop
import psu

BENCH = os.path.dirname(os.path.abspath(__file__))
CLK_TCK = os.sysconf("SC_CLK_TCK")
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat(5); fields[0] is field 3.
    return int(fields[11]) + int(fields[12])


def rss_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


class Server:
    """A server process under test, started and stopped by the harness."""

    def __init__(self, name, argv, port, ca, env=None, cwd=None):
        self.name, self.port, self.ca, self.argv = name, port, ca, argv
        self.log = tempfile.NamedTemporaryFile(prefix=f"bench-{name}-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})}, cwd=cwd)
        self.wait_ready()
        time.sleep(0.5)
        self.idle_rss = rss_kib(self.proc.pid, "VmRSS")

    def wait_ready(self):
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited early; log: {self.log.name}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise SystemExit(f"{self.name} did not listen on {self.port}; log: {self.log.name}")

    def url(self, path):
        return f"https://127.0.0.1:{self.port}{path}"

    def stop(self):
        peak = rss_kib(self.proc.pid, "VmHWM")
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return peak


def https_post(server, path, form, auth):
    ctx = ssl.create_default_context(cafile=server.ca)
    ctx.check_hostname = False
    req = urllib.request.Request(server.url(path), data=urllib.parse.urlencode(form).encode(),
                                 headers={"Authorization": auth}, method="POST")
    with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
        return json.load(resp)


WRK_THREADS = 2


def wrk(server, path, seconds, connections, method="POST", body="", auth="", close=False,
        headers=(), fresh_ids=False, pool=None):
    """One wrk run; `headers` are "Name: value" lines, `fresh_ids` a new X-Request-ID per
    request, `pool` a file of pre-signed bodies and DPoP proofs sent once each."""
    env = {**os.environ, "BENCH_METHOD": method, "BENCH_BODY": body, "BENCH_AUTH": auth,
           "BENCH_CLOSE": "1" if close else "0", "BENCH_HEADERS": "\n".join(headers),
           "BENCH_REQUEST_ID": "1" if fresh_ids else "0", "BENCH_POOL": pool or "",
           "BENCH_THREADS": str(WRK_THREADS)}
    before = cpu_ticks(server.proc.pid)
    out = subprocess.run(["wrk", f"-t{WRK_THREADS}", f"-c{connections}", f"-d{seconds}s",
                          "--timeout", "5s", "-s", os.path.join(BENCH, "wrk", "request.lua"),
                          server.url(path)],
                         env=env, capture_output=True, text=True, check=True).stdout
    after = cpu_ticks(server.proc.pid)
    line = next((l for l in out.splitlines() if l.startswith("BENCH_JSON ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no summary:\n{out}")
    s = json.loads(line[len("BENCH_JSON "):])
    requests = s["requests"]
    errors = sum(v for k, v in s.items() if k.startswith("errors_"))
    result = {
        "requests": requests,
        "req_per_s": round(requests / (s["duration_us"] / 1e6), 1),
        "p50_ms": round(s["p50_us"] / 1000, 2),
        "p99_ms": round(s["p99_us"] / 1000, 2),
        "errors": errors,
        "cpu_ms_per_req": round((after - before) * 1000 / CLK_TCK / requests, 3) if requests else None,
    }
    if s["pool_exhausted_threads"]:
        # A thread stopped early: req/s over the whole duration is a lower bound.
        result["pool_exhausted"] = True
        print(f"warning: {path}: the pre-signed pool ran out; req/s is a lower bound", file=sys.stderr)
    return result


def psql(sql, url=PG_ADMIN):
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql], check=True,
                   capture_output=True)


def tls_material(workdir):
    """A throwaway CA and a P-256 server certificate for 127.0.0.1, for the baseline and the peer."""
    ca_key, ca, key, csr, cert = (os.path.join(workdir, n) for n in
                                  ("ca-key.pem", "ca.pem", "key.pem", "csr.pem", "cert.pem"))
    run = lambda *a: subprocess.run(a, check=True, capture_output=True)
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=bench CA")
    run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    ext = os.path.join(workdir, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", cert, "-days", "2", "-extfile", ext)
    return ca, cert, key


OURS_CONFIG = """
[log]
filter = "warn"
{plans}
{http}
{sca}
"""
# Every application gets the sandbox plan; the default config limits it to
# 25/s, which would measure the limiter, not the server. "protected" keeps the
# limiter in the path with limits far above any reachable rate; "unprotected"
# drops the limits and lifts the in-flight cap (issue 11's overhead check).
PLANS_PROTECTED = "[plans.sandbox]\nper_second = 100000000\nburst = 100000000\nper_day = 1000000000000\n"
PLANS_UNLIMITED = "[plans.sandbox]\n"
HTTP_UNCAPPED = "[http]\nmax_in_flight_requests = 1000000\nqueue_timeout_millis = 60000\n"
# The flows sign the three demo PSUs in many times a minute from one address:
# the login throttle stays in the path but far above that.
SCA_LOGINS = ("[sca]\nlogin_attempts_per_address_per_minute = 100000000\n"
              "login_attempts_per_login_per_minute = 100000000\n")


def ours_cli(binary, config, data, database_url):
    argv = [binary, "--config", config, "--data-dir", data]
    return argv + (["--database-url", database_url] if database_url else [])


def create_app(cli, name, extra=()):
    created = subprocess.run(cli + ["admin", "app", "create", "--org", "Bench TPP", "--name", name,
                                    "--redirect-uri", psu.REDIRECT, "--json", *extra],
                             check=True, capture_output=True, text=True)
    return json.loads(created.stdout.strip().splitlines()[-1])


def start_ours(binary, workdir, label, database_url=None, protected=True, demo=False, wrapper=()):
    """The binary on a fresh data dir: a `basic` application, with `demo` the demo bank's
    PSUs and accounts and a `fapi2` application whose JWKS holds the bench's key. `wrapper`
    runs the server under another program (valgrind); the CLI calls run bare."""
    data = os.path.join(workdir, f"ours-{label}")
    os.makedirs(data)
    config = os.path.join(data, "bench.toml")
    with open(config, "w") as f:
        f.write(OURS_CONFIG.format(plans=PLANS_PROTECTED if protected else PLANS_UNLIMITED,
                                   http="" if protected else HTTP_UNCAPPED, sca=SCA_LOGINS))
    cli = ours_cli(binary, config, data, database_url)
    app = create_app(cli, f"bench {label}")
    fapi2 = None
    if demo:
        fapi2 = dpop.Fapi2Client()
        jwks = os.path.join(data, "client-jwks.json")
        with open(jwks, "w") as f:
            json.dump(fapi2.jwks(), f)
        fapi2.client_id = create_app(cli, f"bench fapi2 {label}",
                                     ["--profile", "fapi2", "--jwks", jwks])["client_id"]
    port = free_port()
    server = Server(f"ours-{label}", [*wrapper, *cli, "--listen", f"127.0.0.1:{port}"]
                    + ([] if demo else ["--no-demo"]) + ["serve"],
                    port, os.path.join(data, "tls", "dev-ca.pem"))
    server.data = data
    server.app = (app["client_id"], app["client_secret"])
    server.auth = psu.basic(*server.app)
    server.fapi2 = fapi2
    return server


def token_cases(server, seconds, conns, results, label, extra=True, introspection=True):
    auth = server.auth
    body = "grant_type=client_credentials"
    results.append({"server": label, "case": "token keep-alive",
                    **wrk(server, "/oauth2/token", seconds, conns, body=body, auth=auth)})
    if not extra:
        return
    results.append({"server": label, "case": "token new-connection",
                    **wrk(server, "/oauth2/token", seconds, conns, body=body, auth=auth, close=True)})
    if not introspection:
        return
    token = https_post(server, "/oauth2/token", {"grant_type": "client_credentials", "scope": "ais"}, auth)
    results.append({"server": label, "case": "introspection keep-alive",
                    **wrk(server, "/oauth2/introspect", seconds, conns,
                          body=f"token={token['access_token']}", auth=auth)})


# A DPoP proof's iat may be 60 s old when it arrives: the pool is signed just
# before the case, for at most DPOP_SIGNING_SECS (every proof's iat is the
# start of the signing), and signing and the case together stay under that.
DPOP_MAX_SECONDS = 30
DPOP_SIGNING_SECS = 20


def dpop_token_case(server, seconds, conns, results, label, basic_rate):
    """`private_key_jwt` + DPoP: every request a fresh assertion and proof, signed ahead."""
    client = server.fapi2
    http = psu.Https(server.port, server.ca)

    def token_request(now, nonce):
        status, headers, data = http.request("POST", "/oauth2/token", client.token_form(issuer, now),
                                             {**psu.FORM, "DPoP": client.proof(htu, now, nonce)})
        return status, headers, json.loads(data)

    issuer = json.loads(http.request("GET", "/.well-known/oauth-authorization-server")[2])["issuer"]
    htu = f"{issuer}/oauth2/token"
    # A proof without a nonce is refused with the server's nonce (valid 5–10 minutes).
    now = int(time.time())
    status, headers, body = token_request(now, None)
    nonce = headers.get("dpop-nonce")
    if status != 400 or body.get("error") != "use_dpop_nonce" or not nonce:
        raise SystemExit(f"{label}: no DPoP nonce from the token endpoint: {status} {body}")
    status, _, body = token_request(now, nonce)
    http.close()
    if status != 200 or body.get("token_type", "").lower() != "dpop":
        raise SystemExit(f"{label}: private_key_jwt + DPoP token refused: {status} {body}")
    secs = min(seconds, DPOP_MAX_SECONDS)
    # This path does more than the basic one (two signatures checked, two jti
    # stored), so twice the basic case's rate leaves room to spare.
    count = int(basic_rate * secs * 2) + 200
    pool = os.path.join(server.data, "dpop-pool.txt")
    written = client.write_pool(pool, count, issuer, nonce, DPOP_SIGNING_SECS)
    if written < count:
        # On a slow machine fewer were signed in time: a shorter case, which
        # the pool lasts at up to the basic case's rate (this path is slower).
        secs = max(1, min(secs, int(written / basic_rate)))
        print(f"{label}: {written} DPoP requests signed in {DPOP_SIGNING_SECS} s; "
              f"the DPoP case runs {secs} s", file=sys.stderr)
    results.append({"server": label, "case": "token private_key_jwt+DPoP keep-alive",
                    **wrk(server, "/oauth2/token", secs, conns, pool=pool)})
    os.remove(pool)


def xs2a_cases(server, seconds, conns, results, label, workers):
    """The AIS reads and payment initiation under wrk, then the PSU's flows through the bank's pages."""
    client_id, secret = server.app
    # One authorised consent per demo PSU, by the scripted PSU: alice's is read
    # under wrk, and each PSU's EUR account pays in the payment flows.
    psus = {p[0]: psu.setup_psu(server.port, server.ca, client_id, secret, p) for p in psu.DEMO_PSUS}
    tpp = psu.Tpp(server.port, server.ca, client_id, secret)
    alice = psus["alice"]
    account = alice["account_id"]
    for case, path in (("balances keep-alive", f"/v1/accounts/{account}/balances"),
                       ("transactions keep-alive",
                        f"/v1/accounts/{account}/transactions?bookingStatus=booked")):
        # A fresh access token (they live 5 minutes), from the consent's refresh token.
        tokens = tpp.refresh(alice["refresh_token"])
        alice["refresh_token"] = tokens["refresh_token"]
        results.append({"server": label, "case": case, **wrk(
            server, path, seconds, conns, method="GET", auth=f"Bearer {tokens['access_token']}",
            headers=[f"{k}: {v}" for k, v in psu.ais_headers(alice["consent"]).items()],
            fresh_ids=True)})
    payment = {"instructedAmount": {"currency": "EUR", "amount": "0.01"},
               "debtorAccount": {"iban": alice["iban"]}, "creditorName": "Bench Payee",
               "creditorAccount": {"iban": "DE02120300000000202051"}}
    results.append({"server": label, "case": "payment initiation keep-alive", **wrk(
        server, "/v1/payments/sepa-credit-transfers", seconds, conns,
        body=json.dumps(payment), auth=f"Bearer {tpp.client_token()}",
        headers=["Content-Type: application/json", f"PSU-IP-Address: {psu.PSU_IP}"],
        fresh_ids=True)})
    tpp.http.close()
    for kind, case in (("redirect", "redirect flow (PSU; flows/s, CPU per flow)"),
                       ("payment", "payment flow (PSU; flows/s, CPU per flow)")):
        results.append({"server": label, "case": case,
                        **flows(server, kind, seconds, workers, psus)})


def flows(server, kind, seconds, workers, psus):
    """`workers` processes each running `kind` flows back to back for `seconds`."""
    client_id, secret = server.app
    logins = dict(psu.DEMO_PSUS)
    names = sorted(psus)
    deadline = time.time() + seconds
    jobs = [(kind, server.port, server.ca, client_id, secret,
             (names[i % len(names)], logins[names[i % len(names)]]),
             psus[names[i % len(names)]]["iban"], deadline) for i in range(workers)]
    before, started = cpu_ticks(server.proc.pid), time.time()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        done = pool.map(psu.flow_worker, jobs)
    elapsed, after = time.time() - started, cpu_ticks(server.proc.pid)
    latencies = sorted(l for d in done for l in d["latencies"])
    errors = sum(d["errors"] for d in done)
    for d in done:
        if d["first_error"]:
            print(f"{kind} flow error: {d['first_error']}", file=sys.stderr)
    n = len(latencies)
    pct = lambda q: round(latencies[min(n - 1, int(q * n))] * 1000, 1) if n else None
    return {"requests": n, "req_per_s": round(n / elapsed, 2), "p50_ms": pct(0.5),
            "p99_ms": pct(0.99), "errors": errors,
            "cpu_ms_per_req": round((after - before) * 1000 / CLK_TCK / n, 2) if n else None,
            "http_requests_per_flow": round(sum(d["requests"] for d in done) / n, 1) if n else None,
            "workers": workers}


def argon2id_verify_ms(rounds):
    """One argon2id verify at OWASP's minimum (m = 19 MiB, t = 2, p = 1, the server's own
    parameters), by the C library behind argon2-cffi: the reference for a flow's CPU."""
    import argon2
    hasher = argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
    stored = hasher.hash("bench-password-2026")
    times = []
    for _ in range(rounds):
        started = time.process_time()
        hasher.verify(stored, "bench-password-2026")
        times.append(time.process_time() - started)
    return round(statistics.median(times) * 1000, 2)


def pgbench(seconds, conns, results):
    db = f"bench_pgbench_{os.getpid()}"
    url = f"postgres://postgres@127.0.0.1:5432/{db}"
    psql(f"CREATE DATABASE {db}")
    try:
        subprocess.run(["pgbench", "-i", "-q", "-s", "10", url], check=True, capture_output=True)
        for case, extra in (("pgbench -S (reads)", ["-S"]), ("pgbench TPC-B (payments)", [])):
            run = subprocess.run(["pgbench", *extra, "-c", str(conns), "-j", "2", "-T", str(seconds), url],
                                 capture_output=True, text=True)
            if run.returncode != 0:
                print(f"{case} failed:\n{run.stderr}", file=sys.stderr)
                continue
            out = run.stdout
            tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
            lat = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))
            failed = re.search(r"number of failed transactions: (\d+)", out)
            results.append({"server": "postgresql", "case": case, "requests": None,
                            "req_per_s": round(tps, 1), "p50_ms": None, "p99_ms": None,
                            "latency_avg_ms": lat, "errors": int(failed.group(1)) if failed else None,
                            "cpu_ms_per_req": None})
    finally:
        psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def ratio(a, b):
    return round(a / b, 3) if a and b else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="CI smoke: seconds per case, SQLite + baseline only")
    ap.add_argument("--seconds", type=int)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--fintechapi", required=True)
    ap.add_argument("--baseline", required=True)
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--psu-workers", type=int, help="processes driving the PSU flows (default 4, quick 2)")
    args = ap.parse_args()
    seconds = args.seconds or (2 if args.quick else 10)
    conns = args.connections
    workers = args.psu_workers or (2 if args.quick else 4)
    started = datetime.datetime.now(datetime.timezone.utc)
    with open("/proc/loadavg") as f:
        load_before = " ".join(f.read().split()[:3])
    results, servers = [], []
    # Before any server runs, so nothing else takes the CPU.
    argon2_ms = argon2id_verify_ms(3 if args.quick else 20)

    with tempfile.TemporaryDirectory(prefix="fintechapi-bench-") as work:
        ca, cert, key = tls_material(work)

        def measure(server, label, body):
            try:
                body(server)
            finally:
                peak = server.stop()
                servers.append({"server": label, "idle_rss_mib": round(server.idle_rss / 1024, 1),
                                "peak_rss_mib": round(peak / 1024, 1)})

        port = free_port()
        base = Server("baseline", [args.baseline, f"127.0.0.1:{port}", cert, key], port, ca)
        base.auth = psu.basic("baseline", "baseline-secret")

        def baseline_cases(s):
            # The baseline has no introspection: it only answers fixed JSON.
            token_cases(s, seconds, conns, results, "baseline", extra=not args.quick, introspection=False)
            results.append({"server": "baseline", "case": "balances keep-alive",
                            **wrk(s, "/v1/accounts/x/balances", seconds, conns, method="GET",
                                  auth="Bearer x")})
        measure(base, "baseline", baseline_cases)

        if not args.quick:
            port = free_port()
            peer = Server("peer", ["node", os.path.join(BENCH, "peer", "server.mjs"), str(port), cert,
                                   key, "peer-client", "peer-secret-0123456789abcdef"], port, ca)
            peer.auth = psu.basic("peer-client", "peer-secret-0123456789abcdef")
            measure(peer, "peer", lambda s: token_cases(s, seconds, conns, results, "peer"))

        def ours_cases(label):
            def cases(s):
                token_cases(s, seconds, conns, results, label, extra=not args.quick)
                basic = next(r for r in results if r["server"] == label and r["case"] == "token keep-alive")
                dpop_token_case(s, seconds, conns, results, label, basic["req_per_s"])
                xs2a_cases(s, seconds, conns, results, label, workers)
            return cases

        ours = start_ours(args.fintechapi, work, "sqlite", demo=True)
        measure(ours, "ours SQLite", ours_cases("ours SQLite"))

        if not args.quick:
            ours = start_ours(args.fintechapi, work, "sqlite-unprotected", protected=False)
            measure(ours, "ours SQLite, no limits",
                    lambda s: results.append({"server": "ours SQLite, no limits", "case": "token keep-alive",
                                              **wrk(s, "/oauth2/token", seconds, conns,
                                                    body="grant_type=client_credentials", auth=s.auth)}))

        if not args.quick and not args.no_postgres:
            db = f"fintechapi_bench_{started:%Y%m%d%H%M%S}"
            psql(f"CREATE DATABASE {db}")
            try:
                ours = start_ours(args.fintechapi, work, "postgres", demo=True,
                                  database_url=f"postgres://postgres@127.0.0.1:5432/{db}")
                measure(ours, "ours PostgreSQL", ours_cases("ours PostgreSQL"))
            finally:
                psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
            pgbench(seconds, conns, results)

    def find(server, case):
        return next((r for r in results if r["server"] == server and r["case"] == case), None)

    # The references: AIS reads against pgbench -S, payments against TPC-B.
    pg_reference = {"balances keep-alive": "pgbench -S (reads)",
                    "transactions keep-alive": "pgbench -S (reads)",
                    "payment initiation keep-alive": "pgbench TPC-B (payments)"}
    # The baseline answers any token request with its fixed JSON.
    baseline_reference = {"token private_key_jwt+DPoP keep-alive": "token keep-alive"}
    for r in results:
        b, p = find("baseline", baseline_reference.get(r["case"], r["case"])), find("peer", r["case"])
        g = find("postgresql", pg_reference.get(r["case"]))
        r["vs_baseline"] = ratio(r["req_per_s"], b and b["req_per_s"])
        r["vs_peer"] = ratio(r["req_per_s"], p and p["req_per_s"])
        r["vs_pgbench"] = ratio(r["req_per_s"], g and g["req_per_s"])
        if r["case"].startswith("payment flow"):
            r["cpu_vs_argon2id_verify"] = ratio(r["cpu_ms_per_req"], argon2_ms)
    protected = find("ours SQLite", "token keep-alive")
    unprotected = find("ours SQLite, no limits", "token keep-alive")
    with open("/proc/loadavg") as f:
        load_after = " ".join(f.read().split()[:3])
    report = {
        "started": started.isoformat(timespec="seconds"),
        "command": " ".join(["bench/run"] + sys.argv[1:]),
        "quick": args.quick, "seconds_per_case": seconds, "connections": conns,
        "cpus": os.cpu_count(), "load_before": load_before, "load_after": load_after,
        "results": results, "rss": servers, "argon2id_verify_ms": argon2_ms,
        "protection_overhead": ratio(protected and protected["req_per_s"],
                                     unprotected and unprotected["req_per_s"]),
    }
    md = render(report)
    print(md)
    out = os.path.join(BENCH, "results")
    os.makedirs(out, exist_ok=True)
    stem = os.path.join(out, started.strftime("%Y-%m-%dT%H%M%SZ") + ("-quick" if args.quick else ""))
    with open(stem + ".json", "w") as f:
        json.dump(report, f, indent=2)
    with open(stem + ".md", "w") as f:
        f.write(md)
    print(f"wrote {stem}.json and {stem}.md")
    if any(r["errors"] for r in results if r["server"] != "postgresql"):
        print("warning: some cases had errors (see the errors column)", file=sys.stderr)
        # The CI smoke runs far below any limit: an error there is a broken harness or server.
        if args.quick:
            sys.exit(1)
    if any(not r["req_per_s"] for r in results):
        print("error: a case served no request", file=sys.stderr)
        sys.exit(1)


def render(report):
    fmt = lambda v: "—" if v is None else (f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}")
    lines = [
        f"{report['started']}, {report['cpus']} cores, wrk -t2 -c{report['connections']}, "
        f"{report['seconds_per_case']} s per case, load average before {report['load_before']}, "
        f"after {report['load_after']} (shared machine: figures are indicative)",
        "",
        "| server | case | req/s | p50 ms | p99 ms | errors | server CPU ms/req | × baseline | × peer "
        "| × pgbench |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["results"]:
        lines.append(f"| {r['server']} | {r['case']} | {fmt(r['req_per_s'])} | {fmt(r['p50_ms'])} | "
                     f"{fmt(r['p99_ms'])} | {fmt(r['errors'])} | {fmt(r['cpu_ms_per_req'])} | "
                     f"{fmt(r['vs_baseline'])} | {fmt(r['vs_peer'])} | {fmt(r['vs_pgbench'])} |")
    lines += ["", "Flows: req/s is flows/s, p50/p99 the whole flow, server CPU per flow; "
                  "× pgbench: AIS reads against `pgbench -S`, payment initiation against TPC-B."]
    for r in report["results"]:
        if "http_requests_per_flow" in r:
            line = (f"- {r['server']}, {r['case'].split(' (')[0]}: {r['http_requests_per_flow']} HTTP "
                    f"requests per flow, {r['workers']} PSU processes")
            if r.get("cpu_vs_argon2id_verify") is not None:
                line += (f"; server CPU per flow {fmt(r['cpu_ms_per_req'])} ms = "
                         f"{r['cpu_vs_argon2id_verify']} × one argon2id verify")
            lines.append(line)
    lines += ["", f"One argon2id verify (m = 19 MiB, t = 2, p = 1; argon2-cffi's C library, one "
                  f"core): {report['argon2id_verify_ms']} ms of CPU."]
    lines += ["", "| server | RSS idle MiB | RSS peak MiB |", "|---|---|---|"]
    lines += [f"| {s['server']} | {s['idle_rss_mib']} | {s['peak_rss_mib']} |" for s in report["rss"]]
    if report["protection_overhead"] is not None:
        lines += ["", f"Protection layers (plan limiter + in-flight cap) on the token endpoint, SQLite: "
                      f"{report['protection_overhead']} × the req/s without them."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
