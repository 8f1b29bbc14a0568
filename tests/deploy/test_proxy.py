"""deploy/proxy/basin.conf.template, rendered as the official nginx image renders it (envsubst of
the variables compose defines), carries the guessing limits (limit_req on every login and
join-code path, 429) and the request buffering gunicorn relies on; Debian's nginx accepts it
(`nginx -t`) and, run for real on loopback in front of a stand-in upstream, answers 429 once a
client passes the burst.

Adaptations for running outside compose, all in file locations or names, none in behaviour: the
TLS and static folders point into the test's folder, `web:8000` (a name only compose's network
resolves) to the stand-in upstream, the ports to free loopback ports, and `http2 on;` is dropped
where the local nginx predates it (Debian 12 has 1.22; compose runs 1.27)."""
from __future__ import annotations

import http.server
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
import urllib3

from tests.e2e.live import free_port

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "proxy" / "basin.conf.template"
LOGIN_PATHS = ["/accounts/login/", "/admin/login/", "/api/auth/token/"]
JOIN_PATHS = ["/join/", "/api/courses/join/", "/accounts/signup/"]



def render(env: dict[str, str]) -> str:
    """envsubst over the defined variables only, as the image's 20-envsubst-on-templates.sh does:
    nginx's own $host and $binary_remote_addr stay."""
    return re.sub(r"\$\{(\w+)\}", lambda m: env.get(m.group(1), m.group(0)), TEMPLATE.read_text())


def compose_proxy_environment() -> dict[str, str]:
    import yaml

    proxy = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())["services"]["proxy"]
    return {k: re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(v)) for k, v in proxy["environment"].items()}


def locations(conf: str) -> dict[str, str]:
    """Each `location = PATH { ... }` of the HTTPS server with its body."""
    return dict(re.findall(r"location = (\S+) \{([^}]*)\}", conf))


def test_every_template_variable_is_given_by_compose():
    env = compose_proxy_environment()
    conf = render(env)
    assert not re.search(r"\$\{\w+\}", conf), re.findall(r"\$\{\w+\}", conf)
    assert "$binary_remote_addr" in conf and "$host" in conf  # nginx's own variables survive


def test_login_and_join_code_paths_are_rate_limited_with_429():
    conf = render(compose_proxy_environment())
    zones = dict(re.findall(r"limit_req_zone \$basin_attempt zone=(\w+):\d+m rate=(\d+r/m);", conf))
    # Only attempts count: a POST is keyed by the address, anything else by "" (not limited).
    assert re.search(r"map \$request_method \$basin_attempt \{\s*POST\s+\$binary_remote_addr;\s*default \"\";", conf)
    assert zones == {"basin_login": "10r/m", "basin_join": "10r/m"}
    found = locations(conf)
    for paths, zone in ((LOGIN_PATHS, "basin_login"), (JOIN_PATHS, "basin_join")):
        for path in paths:
            assert path in found, f"no location for {path}"
            assert re.search(rf"limit_req zone={zone} burst=\d+ nodelay;", found[path]), found[path]
            assert "proxy_pass http://web:8000;" in found[path]
    assert "limit_req_status 429;" in conf
    # Nothing else is limited: the rest of the site has its own location, without limit_req.
    rest = re.search(r"location / \{([^}]*)\}", conf.split("listen 443")[1]).group(1)
    assert "limit_req" not in rest and "proxy_pass http://web:8000;" in rest


def test_request_buffering_is_on_and_inherited_by_every_proxied_location():
    conf = render(compose_proxy_environment())
    https = conf.split("listen 443")[1]
    assert re.search(r"^\s+proxy_request_buffering on;", https, re.M)
    assert "proxy_request_buffering off" not in conf and "proxy_buffering off" not in conf
    for body in locations(conf).values():  # a location with its own proxy_set_header would drop the server's
        assert "proxy_set_header" not in body and "proxy_request_buffering" not in body


@pytest.fixture
def nginx_conf(tmp_path):
    """The rendered template under a minimal main config, in the test's folder; the upstream is a
    stand-in HTTP server on loopback that answers 200 to anything."""
    nginx = shutil.which("nginx") or (Path("/usr/sbin/nginx").exists() and "/usr/sbin/nginx")
    if not nginx:
        pytest.skip("needs nginx: apt-get install nginx-light (Debian's nginx)")
    version = subprocess.run([nginx, "-v"], capture_output=True, text=True).stderr
    tls = tmp_path / "tls"
    tls.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-keyout", str(tls / "privkey.pem"), "-out", str(tls / "fullchain.pem")],
                   check=True, capture_output=True)
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    http_port, https_port = free_port(), free_port()
    conf = (render(compose_proxy_environment())
            .replace("/etc/nginx/tls/", f"{tls}/").replace("/srv/basin/static/", f"{tmp_path}/static/")
            .replace("http://web:8000", f"http://127.0.0.1:{upstream.server_address[1]}")
            .replace("listen 80;", f"listen 127.0.0.1:{http_port};")
            .replace("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;"))
    major, minor, patch = map(int, re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", version).groups())
    if (major, minor, patch) < (1, 25, 1):
        conf = conf.replace("    http2 on;\n", "")
    (tmp_path / "basin.conf").write_text(conf)
    main = tmp_path / "nginx.conf"
    main.write_text(f"""
pid {tmp_path}/nginx.pid;
error_log stderr warn;
daemon off;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    include {tmp_path}/basin.conf;
}}
""")
    yield nginx, main, https_port
    upstream.shutdown()


class Ok(http.server.BaseHTTPRequestHandler):
    def _ok(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_POST = _ok

    def log_message(self, *args):
        pass


def test_debians_nginx_accepts_the_rendered_template(nginx_conf):
    nginx, main, _ = nginx_conf
    checked = subprocess.run([nginx, "-t", "-c", str(main)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr and "test is successful" in checked.stderr


def test_nginx_answers_429_once_a_client_passes_the_burst_on_a_login_path(nginx_conf):
    nginx, main, https_port = nginx_conf
    server = subprocess.Popen([nginx, "-c", str(main)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"https://127.0.0.1:{https_port}"
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    try:
        with requests.Session() as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    assert http.get(f"{base}/", verify=False, timeout=2).status_code == 200
                    break
                except requests.ConnectionError:
                    assert server.poll() is None and time.monotonic() < deadline, server.stdout.read().decode()
                    time.sleep(0.1)
            # Loading the login page is no attempt: a lab on one address loads it freely.
            assert [http.get(f"{base}/accounts/login/", verify=False, timeout=5).status_code for _ in range(40)] \
                == [200] * 40
            answers = [http.post(f"{base}/api/auth/token/", data={"username": "ada", "password": f"guess-{i}"},
                                 verify=False, timeout=5) for i in range(30)]
            codes = [a.status_code for a in answers]
            # 1 at the rate plus a burst of 20, then refused; the rest of the site is not limited.
            assert codes[:21] == [200] * 21 and set(codes[21:]) == {429}, codes
            refused = answers[-1]  # the API's JSON error shape, nginx's own 429 included
            assert refused.headers["Content-Type"] == "application/json" and refused.headers["Retry-After"] == "60"
            assert refused.json()["error"]["code"] == "too_many_attempts"
            # one zone for all logins
            assert http.post(f"{base}/admin/login/", verify=False, timeout=5).status_code == 429
            assert http.post(f"{base}/api/courses/join/", verify=False, timeout=5).status_code == 200  # its own zone
            assert [http.get(f"{base}/homeworks/hw1/", verify=False, timeout=5).status_code for _ in range(40)] \
                == [200] * 40
    finally:
        server.terminate()
        server.wait(timeout=10)
