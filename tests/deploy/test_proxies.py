"""The example proxy configurations of examples/ (the ones docs/deployment.md includes), checked by the
servers themselves: `nginx -t` for both SSO layouts, `apache2ctl -t` for the CAS, Shibboleth and mellon
sites with the modules of Debian's packages; and a live nginx and a live Apache (CAS site) showing that a client's identity headers
never reach jmb on public paths, while the SSO paths and `/` behave as documented."""
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

from conftest import EXAMPLES, free_port, run, tool


def nginx_tree(tmp: Path, variant: str, upstream: str | None = None) -> Path:
    """A self-contained nginx prefix holding the examples as /etc/nginx would (conf.d/, snippets/),
    with the Jitsi server block reduced to jmb's includes."""
    shutil.copytree(EXAMPLES / "nginx" / "snippets", tmp / "snippets")
    shutil.copytree(EXAMPLES / "nginx" / "conf.d", tmp / "conf.d")
    extra = "snippets/jmb-oauth2.conf"
    if variant == "apache":
        shutil.copy(tmp / "snippets" / "jmb-sso-apache.conf", tmp / "snippets" / "jmb-sso.conf")
        extra = "snippets/jmb-apache-sso-endpoints.conf"
    if upstream:
        up = tmp / "conf.d" / "jmb-upstream.conf"
        up.write_text(up.read_text().replace("unix:/run/jmb/jmb.sock", upstream))
    port = free_port()
    (tmp / "nginx.conf").write_text(f"""
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include conf.d/*.conf;
    server {{
        listen 127.0.0.1:{port};
        server_name meet.example.org;
        access_log {tmp}/access.log redacted;
        include snippets/jmb-locations.conf;
        include {extra};
        location / {{ return 200 "jitsi\\n"; }}
    }}
}}
""")
    (tmp / "port").write_text(str(port))
    return tmp


@pytest.mark.parametrize("variant", ["auth_request", "apache"])
def test_nginx_accepts_the_examples(tmp_path, variant):
    tree = nginx_tree(tmp_path, variant)
    r = run([tool("nginx"), "-t", "-p", str(tree), "-c", str(tree / "nginx.conf")])
    assert r.returncode == 0 and "test is successful" in r.stderr, r.stderr
    # The check can fail: a location that includes a snippet that is not there.
    (tree / "snippets" / "jmb-public.conf").unlink()
    assert run([tool("nginx"), "-t", "-p", str(tree), "-c", str(tree / "nginx.conf")]).returncode != 0


def test_every_jmb_location_sets_or_strips_the_identity_headers():
    snippets = EXAMPLES / "nginx" / "snippets"
    for name in ["jmb-public.conf", "jmb-sso.conf", "jmb-sso-apache.conf"]:
        text = (snippets / name).read_text()
        for h in ["X-Remote-User", "X-Remote-Mail", "X-Remote-Name"]:
            assert re.search(rf"^proxy_set_header {h} ", text, re.M), f"{name} leaves {h} to the client"
    locations = (snippets / "jmb-locations.conf").read_text()
    for block in re.findall(r"^location [^{]+\{(.*?)\}$", locations, re.M):
        if "return" in block and "include" not in block:
            continue
        assert re.search(r"include snippets/jmb-(public|sso)\.conf;", block), block
    common = (EXAMPLES / "apache" / "jmb-common.conf").read_text()
    for h in ["X-Remote-User", "X-Remote-Mail", "X-Remote-Name"]:
        assert f"RequestHeader unset {h} early" in common
        assert f"RequestHeader unset {h}" in (EXAMPLES / "apache" / "jmb-public.conf").read_text()


class Recorder(http.server.BaseHTTPRequestHandler):
    """The stand-in for jmb: answers 200 and records the headers it got."""
    seen: list[dict] = []

    def do_GET(self):  # noqa: N802 (the stdlib's name)
        Recorder.seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, *args):
        pass


def test_live_nginx_strips_forged_identity(tmp_path):
    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    tree = nginx_tree(tmp_path, "apache", upstream=f"127.0.0.1:{backend.server_address[1]}")
    port = int((tree / "port").read_text())
    proc = subprocess.Popen([tool("nginx"), "-p", str(tree), "-c", str(tree / "nginx.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(50):  # bounded: 5 s
            try:
                requests.get(base + "/healthz", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            raise AssertionError("nginx did not start")
        forged = {"X-Remote-User": "jdupont", "X-Remote-Mail": "jean.dupont@example.org", "X-Remote-Name": "J"}
        for path in ["/join.cgi?id=abc", "/ical.cgi?hash", "/j/token", "/rsvp/token", "/dav/", "/healthz",
                     "/close.cgi", "/invitation.cgi?accept&id=abc", "/assets/jmb.css"]:
            Recorder.seen.clear()
            r = requests.get(base + path, headers=forged, allow_redirects=False, timeout=5)
            assert r.status_code == 200, (path, r.status_code)
            assert len(Recorder.seen) == 1, path
            got = Recorder.seen[0]
            assert not {"x-remote-user", "x-remote-mail", "x-remote-name"} & got.keys(), (path, got)
            assert got["x-forwarded-for"] == "127.0.0.1", "jmb can tell the request was relayed (/metrics)"
        # `/` goes to /close.cgi; a room goes to Jitsi; /metrics is not relayed to jmb.
        r = requests.get(base + "/", allow_redirects=False, timeout=5)
        assert r.status_code == 302 and r.headers["location"].endswith("/close.cgi")
        Recorder.seen.clear()
        assert requests.get(base + "/abcdefghijklmnop", timeout=5).text == "jitsi\n"
        assert requests.get(base + "/metrics", timeout=5).text == "jitsi\n"
        assert Recorder.seen == []
        # The SSO paths go to Apache (not running here): never to jmb directly.
        r = requests.get(base + "/booking.cgi", headers=forged, timeout=5)
        assert r.status_code == 502 and Recorder.seen == []
        # Capability URLs never reach the access log.
        log = (tree / "access.log").read_text()
        assert "/join.cgi?[redacted]" in log and "id=abc" not in log and "/j/token" not in log
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        backend.shutdown()


MODULES = ["mpm_event", "authn_core", "authz_core", "authz_host", "authz_user", "headers", "proxy", "proxy_http",
           "setenvif", "mime"]
SITES = {"jmb-cas.conf": ["auth_cas"], "jmb-shib.conf": ["shib"], "jmb-mellon.conf": ["auth_mellon"]}


def apache_tree(tmp: Path, site: str) -> Path:
    """An Apache server root with the examples where docs/deployment.md puts them (/etc/apache2/jmb/,
    sites-available/), paths moved into the test folder, and the modules loaded from Debian's files."""
    (tmp / "jmb").mkdir()
    for f in ["jmb-common.conf", "jmb-public.conf"]:
        shutil.copy(EXAMPLES / "apache" / f, tmp / "jmb" / f)
    text = (EXAMPLES / "apache" / site).read_text()
    text = (text.replace("/etc/apache2/jmb/", f"{tmp}/jmb/").replace("/etc/apache2/mellon/", f"{tmp}/mellon/")
                .replace("/var/cache/apache2/mod_auth_cas/", f"{tmp}/cas/"))
    (tmp / "site.conf").write_text(text)
    (tmp / "cas").mkdir()
    if site == "jmb-mellon.conf":
        mellon(tmp / "mellon")
    loads = "\n".join(
        f"Include /etc/apache2/mods-available/{m}.load" for m in MODULES + SITES[site]
    )
    (tmp / "apache2.conf").write_text(f"""
ServerRoot "{tmp}"
DefaultRuntimeDir {tmp}
PidFile {tmp}/apache2.pid
Mutex file:{tmp} default
ErrorLog {tmp}/error.log
TypesConfig /etc/mime.types
{loads}
Include /etc/apache2/mods-available/mpm_event.conf
Listen 127.0.0.1:{free_port()}
Include {tmp}/site.conf
""")
    return tmp


def mellon(d: Path):
    """The SP key, certificate and metadata mellon reads at start, and a minimal IdP metadata file."""
    d.mkdir()
    r = run([tool("mellon_create_metadata"), "https://meet.example.org/mellon/metadata",
             "https://meet.example.org/mellon"], cwd=d)
    assert r.returncode == 0, r.stderr
    for f in d.iterdir():
        f.rename(d / ("sp" + "".join(f.suffixes[-1:])))
    cert = (d / "sp.cert").read_text()
    body = "".join(cert.splitlines()[1:-1])
    (d / "idp.xml").write_text(f"""<?xml version="1.0"?>
<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#"
    entityID="https://idp.example.org/idp/shibboleth">
  <IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></KeyDescriptor>
    <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
        Location="https://idp.example.org/idp/profile/SAML2/Redirect/SSO"/>
  </IDPSSODescriptor>
</EntityDescriptor>
""")


@pytest.mark.parametrize("site", sorted(SITES))
def test_apache_accepts_the_examples(tmp_path, site):
    tree = apache_tree(tmp_path, site)
    env = {"APACHE_ARGUMENTS": f"-f {tree}/apache2.conf", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    r = run([tool("apache2ctl"), "-t"], env=env)
    assert r.returncode == 0 and "Syntax OK" in (r.stdout + r.stderr), r.stdout + r.stderr
    # The check can fail: without the SSO module, the site's directives are unknown.
    conf = (tree / "apache2.conf").read_text()
    (tree / "apache2.conf").write_text(conf.replace(f"Include /etc/apache2/mods-available/{SITES[site][0]}.load", ""))
    r = run([tool("apache2ctl"), "-t"], env=env)
    assert r.returncode != 0, r.stdout + r.stderr


def test_live_apache_strips_forged_identity(tmp_path):
    """The CAS site for real: a client's identity headers never reach jmb on public paths (removed
    `early`, then again in jmb-public.conf), and the SSO paths send the browser to CAS instead of jmb."""
    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    tree = apache_tree(tmp_path, "jmb-cas.conf")
    common = tree / "jmb" / "jmb-common.conf"
    common.write_text(common.read_text()
                      .replace('"unix:/run/jmb/jmb.sock|http://localhost/"', f"http://127.0.0.1:{backend.server_address[1]}/")
                      .replace("${APACHE_LOG_DIR}", str(tree)))
    port = free_port()
    site = (tree / "site.conf").read_text().replace("<VirtualHost 127.0.0.1:81>", f"<VirtualHost 127.0.0.1:{port}>")
    (tree / "site.conf").write_text(site)
    conf = re.sub(r"^Listen .*$", f"Listen 127.0.0.1:{port}", (tree / "apache2.conf").read_text(), flags=re.M)
    # Worker processes run as www-data: the server root must be reachable, the CAS cache writable.
    tree.chmod(0o755)
    for p in tree.parents:
        if str(p).startswith("/tmp/pytest-of-"):
            p.chmod(p.stat().st_mode | 0o755)
    shutil.chown(tree / "cas", "www-data", "www-data")
    (tree / "apache2.conf").write_text(conf + "\nUser www-data\nGroup www-data\n")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "APACHE_LOG_DIR": str(tree), "APACHE_RUN_DIR": str(tree),
           "APACHE_LOCK_DIR": str(tree), "APACHE_PID_FILE": f"{tree}/apache2.pid"}
    proc = subprocess.Popen([tool("apache2"), "-f", str(tree / "apache2.conf"), "-D", "FOREGROUND"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(50):  # bounded: 5 s
            try:
                requests.get(base + "/healthz", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            raise AssertionError("apache2 did not start:\n" + (tree / "error.log").read_text())
        forged = {"X-Remote-User": "jdupont", "X-Remote-Mail": "jean.dupont@example.org", "X-Remote-Name": "J",
                  "CAS-User": "jdupont"}
        for path in ["/join.cgi?id=abc", "/ical.cgi?hash", "/j/token", "/rsvp/token", "/dav/", "/healthz",
                     "/invitation.cgi?accept&id=abc", "/assets/jmb.css"]:
            Recorder.seen.clear()
            r = requests.get(base + path, headers=forged, allow_redirects=False, timeout=5)
            assert r.status_code == 200, (path, r.status_code, (tree / "error.log").read_text()[-2000:])
            got = Recorder.seen[0]
            assert not {"x-remote-user", "x-remote-mail", "x-remote-name"} & got.keys(), (path, got)
        Recorder.seen.clear()
        r = requests.get(base + "/booking.cgi", headers=forged, allow_redirects=False, timeout=5)
        assert r.status_code == 302 and r.headers["location"].startswith("https://cas.example.org/cas/login")
        assert Recorder.seen == [], "an SSO path without a CAS session never reaches jmb"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        backend.shutdown()
