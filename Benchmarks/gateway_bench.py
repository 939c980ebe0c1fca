#!/usr/bin/env python3
"""The gateway against nginx and haproxy, as reverse proxies to the same local backend.

Each proxy gets the same wrk load in interleaved rounds; the report gives requests/s, latency p50
and p99, and the proxy's CPU time per request (user + system, from /proc), with ratios to nginx.

Besides plain proxying: the gateway with the resilience policies; with upstream credentials (a warm
cloud token and a gateway-signed ES256 JWT per request); and with the full chain (those two plus an
mTLS client certificate to an https backend that requires it), compared with nginx proxying to the
same https backend with the same client certificate; the gateway speaking HTTP/2 (h2c) to the
backend, each request a stream on one multiplexed connection per event loop; the gateway choosing
the measured route among 10,001 on the same host name (routing must not grow with the number of
routes); and the rate at which
an open circuit breaker answers (503 problem+json without touching the upstream), against the
proxied rate, with nginx answering the same 503 from its configuration as the peer.

And, as the floor for the gateway's stack, the least a proxy built on SwiftNIO's HTTP/1.1 codec does
per request (Sources/nio-floor-proxy: no routing, rewriting, pooling or error handling).

    python3 Benchmarks/gateway_bench.py [--duration 10] [--connections 32] [--rounds 3]
        [--modes portcullis,portcullis-breaker-open] [--baseline [LABEL=]OLD-gateway-bench-server,...]

--modes runs only the named rows (and nginx, the reference; nginx+mtls when a chain row runs, nginx
static 503 when the breaker-open row runs): the
names in the first column, spaces as dashes. --baseline also runs each Portcullis row with other
builds of gateway-bench-server, in the same interleaved rounds, as "... (LABEL)" (default label:
baseline): before and after a change, or each step of a series, against the same nginx.

Needs nginx, haproxy and wrk (Debian packages nginx-light, haproxy, wrk) and builds the gateway
benchmark server in release mode.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

BACKEND, NGINX, HAPROXY, GATEWAY, GATEWAY_POLICIES = 18080, 18081, 18082, 18083, 18084
GATEWAY_CREDENTIALS, BACKEND_MTLS, NGINX_MTLS, GATEWAY_CHAIN, GATEWAY_OPEN = 18085, 18086, 18087, 18088, 18089
BACKEND_H2C, GATEWAY_H2C, NIO_FLOOR, NGINX_503, GATEWAY_ROUTES = 18090, 18091, 18092, 18093, 18094
# What the gateway's open breaker answers, for nginx to answer the same from its configuration.
PROBLEM = ('{"type":"https://portcullis.io/problems/circuit-open","title":"The upstream\'s circuit breaker is open",'
           '"status":503,"detail":"the circuit breaker for http://127.0.0.1:1 is open","instance":"8fb1ed7694bc3fb18eba95929fda45e8"}')
NGINX_PROBLEM = PROBLEM.replace("'", "\\'")
HERE = os.path.dirname(os.path.abspath(__file__))


def cpu_seconds(pid):
    """User plus system CPU time of a process and its threads, in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def children_pids(pid):
    """The process and, for nginx and haproxy, its workers."""
    pids = [pid]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == pid:
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def wait_for_port(port, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if subprocess.run(["bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{port}"], capture_output=True).returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def wrk(port, duration, connections):
    output = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", f"http://127.0.0.1:{port}/hello"],
        capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)

    def latency(percent):
        value, unit = re.search(rf"\s{percent}%\s+([\d.]+)(us|ms|s)", output).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    return requests, latency(50), latency(99), int(errors.group(1)) if errors else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", default="", help="comma-separated rows to run (default: all)")
    parser.add_argument("--baseline", default="", help="other gateway-bench-server binaries ([LABEL=]PATH, comma-separated) to run beside this one")
    options = parser.parse_args()
    for tool in ["nginx", "haproxy", "wrk"]:
        if not shutil.which(tool) and not os.path.exists(f"/usr/sbin/{tool}"):
            sys.exit(f"{tool} is missing: apt-get install nginx-light haproxy wrk")

    for product in ["gateway-bench-server", "nio-floor-proxy"]:
        subprocess.run(["swift", "build", "-c", "release", "--package-path", HERE, "--product", product], check=True)
    binaries = subprocess.run(["swift", "build", "-c", "release", "--package-path", HERE, "--show-bin-path"],
                              capture_output=True, text=True, check=True).stdout.strip()
    binary = binaries + "/gateway-bench-server"

    work = tempfile.mkdtemp(prefix="portcullis-bench-")
    subprocess.run([binary, "--write-pki", work], check=True)
    nginx_conf = os.path.join(work, "nginx.conf")
    with open(nginx_conf, "w") as conf:
        conf.write(f"""
worker_processes 1;
daemon off;
error_log {work}/nginx-error.log;
pid {work}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {work}; proxy_temp_path {work}; fastcgi_temp_path {work}; uwsgi_temp_path {work}; scgi_temp_path {work};
    upstream backend {{ server 127.0.0.1:{BACKEND}; keepalive 64; }}
    server {{ listen 127.0.0.1:{BACKEND}; location / {{ return 200 "hello from the backend\\n"; }} }}
    server {{
        listen 127.0.0.1:{BACKEND_H2C} http2;
        keepalive_requests 1000000;
        location / {{ return 200 "hello from the backend\\n"; }}
    }}
    server {{
        listen 127.0.0.1:{BACKEND_MTLS} ssl;
        ssl_certificate {work}/server.crt; ssl_certificate_key {work}/server.key;
        ssl_client_certificate {work}/ca.crt; ssl_verify_client on;
        keepalive_requests 100000;
        location / {{ return 200 "hello from the mTLS backend\\n"; }}
    }}
}}
""")
    proxy_conf = os.path.join(work, "proxy.conf")
    with open(proxy_conf, "w") as conf:
        conf.write(f"""
worker_processes 1;
daemon off;
error_log {work}/proxy-error.log;
pid {work}/proxy.pid;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {work}; proxy_temp_path {work}; fastcgi_temp_path {work}; uwsgi_temp_path {work}; scgi_temp_path {work};
    upstream backend {{ server 127.0.0.1:{BACKEND}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{NGINX};
        location / {{ proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; }}
    }}
    server {{
        listen 127.0.0.1:{NGINX_503};
        location / {{ default_type application/problem+json; add_header Retry-After 3600 always; return 503 '{NGINX_PROBLEM}'; }}
    }}
    upstream backend_mtls {{ server 127.0.0.1:{BACKEND_MTLS}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{NGINX_MTLS};
        location / {{
            proxy_pass https://backend_mtls; proxy_http_version 1.1; proxy_set_header Connection "";
            proxy_ssl_certificate {work}/client.crt; proxy_ssl_certificate_key {work}/client.key;
            proxy_ssl_trusted_certificate {work}/ca.crt; proxy_ssl_verify on; proxy_ssl_name localhost; proxy_ssl_server_name on;
            proxy_ssl_session_reuse on;
        }}
    }}
}}
""")
    haproxy_conf = os.path.join(work, "haproxy.cfg")
    with open(haproxy_conf, "w") as conf:
        conf.write(f"""
global
    nbthread 1
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    option http-keep-alive
frontend gateway
    bind 127.0.0.1:{HAPROXY}
    default_backend backend
backend backend
    http-reuse always
    server b1 127.0.0.1:{BACKEND}
""")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    processes = {}
    try:
        backend = subprocess.Popen([nginx, "-c", nginx_conf])
        wait_for_port(BACKEND)
        processes["nginx"] = subprocess.Popen([nginx, "-c", proxy_conf])
        processes["haproxy"] = subprocess.Popen([haproxy, "-f", haproxy_conf])
        processes["nginx static 503"] = processes["nginx"]
        processes["nio floor"] = subprocess.Popen([binaries + "/nio-floor-proxy", "--port", str(NIO_FLOOR), "--upstream-port", str(BACKEND)])
        processes["portcullis"] = subprocess.Popen([binary, "--port", str(GATEWAY), "--upstream-port", str(BACKEND)])
        processes["portcullis+policies"] = subprocess.Popen(
            [binary, "--port", str(GATEWAY_POLICIES), "--upstream-port", str(BACKEND), "--policies"])
        processes["portcullis+credentials"] = subprocess.Popen(
            [binary, "--port", str(GATEWAY_CREDENTIALS), "--upstream-port", str(BACKEND), "--credentials"])
        processes["nginx+mtls"] = processes["nginx"]
        processes["portcullis+chain"] = subprocess.Popen(
            [binary, "--port", str(GATEWAY_CHAIN), "--upstream-port", str(BACKEND_MTLS), "--credentials", "--tls-dir", work])
        processes["portcullis h2c upstream"] = subprocess.Popen(
            [binary, "--port", str(GATEWAY_H2C), "--upstream-port", str(BACKEND_H2C), "--http2"])
        processes["portcullis with 10,000 routes"] = subprocess.Popen(
            [binary, "--port", str(GATEWAY_ROUTES), "--upstream-port", str(BACKEND), "--extra-routes", "10000"])
        processes["portcullis breaker open"] = subprocess.Popen(
            [binary, "--port", str(GATEWAY_OPEN), "--upstream-port", str(BACKEND), "--open-breaker"])
        ports = {
            "nginx": NGINX, "haproxy": HAPROXY, "nio floor": NIO_FLOOR, "portcullis": GATEWAY, "portcullis+policies": GATEWAY_POLICIES,
            "portcullis+credentials": GATEWAY_CREDENTIALS, "nginx+mtls": NGINX_MTLS, "portcullis+chain": GATEWAY_CHAIN,
            "portcullis h2c upstream": GATEWAY_H2C, "portcullis with 10,000 routes": GATEWAY_ROUTES,
            "portcullis breaker open": GATEWAY_OPEN, "nginx static 503": NGINX_503,
        }
        wanted = {mode.strip().replace("-", " ").replace("10000", "10,000") for mode in options.modes.split(",") if mode.strip()}
        if wanted:
            wanted.add("nginx")
            if "portcullis+chain" in wanted:
                wanted.add("nginx+mtls")
            if "portcullis breaker open" in wanted:
                wanted.add("nginx static 503")
            ports = {name: port for name, port in ports.items() if name in wanted}
        arguments = {
            "portcullis": [], "portcullis+policies": ["--policies"], "portcullis+credentials": ["--credentials"],
            "portcullis+chain": ["--credentials", "--tls-dir", work], "portcullis breaker open": ["--open-breaker"],
            "portcullis with 10,000 routes": ["--extra-routes", "10000"],
        }
        labels = []
        for index, baseline in enumerate(entry for entry in options.baseline.split(",") if entry):
            label, _, path = baseline.rpartition("=")
            label = label or "baseline"
            labels.append(label)
            for name in [name for name in ports if name in arguments]:
                port = ports[name] + 100 * (index + 1)
                upstream = BACKEND_MTLS if name == "portcullis+chain" else BACKEND
                processes[f"{name} ({label})"] = subprocess.Popen(
                    [path, "--port", str(port), "--upstream-port", str(upstream)] + arguments[name])
                ports[f"{name} ({label})"] = port
        for port in ports.values():
            wait_for_port(port)
        for name, port in ports.items():
            wrk(port, 2, options.connections)  # warm up
        totals = {name: {"requests": 0, "cpu": 0.0, "p50": [], "p99": [], "errors": 0} for name in ports}
        for _ in range(options.rounds):
            for name, port in ports.items():
                pids = children_pids(processes[name].pid)
                before = sum(cpu_seconds(pid) for pid in pids)
                requests, p50, p99, errors = wrk(port, options.duration, options.connections)
                after = sum(cpu_seconds(pid) for pid in pids)
                total = totals[name]
                total["requests"] += requests
                total["cpu"] += after - before
                total["p50"].append(p50)
                total["p99"].append(p99)
                total["errors"] += errors
        seconds = options.rounds * options.duration
        nginx_cpu = totals["nginx"]["cpu"] / totals["nginx"]["requests"] * 1e6
        print(f"\n{options.rounds} interleaved rounds of {options.duration}s, wrk -t1 -c{options.connections}, "
              f"{os.cpu_count()} CPUs, backend nginx on loopback")
        nginx_mtls = totals.get("nginx+mtls")
        nginx_mtls_cpu = nginx_mtls["cpu"] / nginx_mtls["requests"] * 1e6 if nginx_mtls else float("nan")
        print(f"{'proxy':<35}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'CPU µs/req':>12}{'× nginx':>9}{'× nginx+mtls':>14}{'errors':>8}")
        for name, total in totals.items():
            cpu = total["cpu"] / total["requests"] * 1e6
            print(f"{name:<35}{total['requests'] / seconds:>10.0f}{sorted(total['p50'])[len(total['p50']) // 2]:>9.2f}"
                  f"{sorted(total['p99'])[len(total['p99']) // 2]:>9.2f}{cpu:>12.1f}{cpu / nginx_cpu:>9.2f}"
                  f"{cpu / nginx_mtls_cpu:>14.2f}{total['errors']:>8}")
        for suffix in [""] + [f" ({label})" for label in labels]:
            proxied, fast_fail = totals.get("portcullis" + suffix), totals.get("portcullis breaker open" + suffix)
            if proxied and fast_fail:
                print(f"\nbreaker-open fast-fail{suffix}: {fast_fail['requests'] / seconds:.0f} responses/s (503 problem+json, "
                      f"counted as errors above), {fast_fail['requests'] / proxied['requests']:.2f}× the proxied rate")
        static, proxied = totals.get("nginx static 503"), totals["nginx"]
        if static:
            print(f"nginx answering the same 503 from its configuration: {static['requests'] / seconds:.0f} responses/s, "
                  f"{static['requests'] / proxied['requests']:.2f}× its proxied rate")
    finally:
        for process in set(processes.values()) | {locals().get("backend")}:
            if process:
                process.terminate()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
