"""The Debian package, built with cargo-deb (`scripts/package`) from the debug binary and inspected:
files and modes, the control fields, conffiles, maintainer scripts; the unit checked by
`systemd-analyze verify` and `systemd-analyze security`; the packaged configuration accepted by the
packaged binary once the site's values are in."""
from __future__ import annotations

import io
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from conftest import ROOT, jmb_binary, run, tool


@pytest.fixture(scope="module")
def deb(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("deb") / "jmb.deb"
    r = run([str(ROOT / "scripts" / "package"), "--binary", str(jmb_binary()), "-o", str(out)], cwd=ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    return out


@pytest.fixture(scope="module")
def tree(deb, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("root")
    r = run([tool("dpkg-deb"), "-x", str(deb), str(root)])
    assert r.returncode == 0, r.stderr
    return root


def listing(deb: Path) -> dict[str, str]:
    """path → mode string, as `dpkg-deb -c` prints it."""
    r = run([tool("dpkg-deb"), "-c", str(deb)])
    assert r.returncode == 0, r.stderr
    out = {}
    for line in r.stdout.splitlines():
        parts = line.split()
        out[parts[-1].lstrip(".")] = parts[0]
    return out


def control(deb: Path) -> dict[str, str]:
    raw = subprocess.run([tool("dpkg-deb"), "--ctrl-tarfile", str(deb)], capture_output=True, timeout=60).stdout
    files = {}
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        for m in tar.getmembers():
            if m.isfile():
                files[m.name.lstrip("./")] = (oct(m.mode & 0o777), tar.extractfile(m).read().decode())
    return files


def test_files_and_modes(deb):
    files = listing(deb)
    assert files["/usr/bin/jmb"] == "-rwxr-xr-x"
    assert files["/etc/jmb/jmb.toml"] == "-rw-r-----", "the configuration is not world-readable"
    assert files["/usr/lib/systemd/system/jmb.service"] == "-rw-r--r--"
    for doc in ["README.md", "migration.md", "deployment.md", "configuration.md", "copyright",
                "examples/jmb.toml", "examples/apache/jmb-cas.conf", "examples/apache/jmb-shib.conf",
                "examples/apache/jmb-mellon.conf", "examples/nginx/snippets/jmb-locations.conf"]:
        assert f"/usr/share/doc/jmb/{doc}" in files, doc
    # Nothing installed under /var: the state folder belongs to the service (StateDirectory=).
    assert not [p for p in files if p.startswith("/var/")]


def test_control_conffiles_and_maintainer_scripts(deb):
    ctrl = control(deb)
    fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", ctrl["control"][1], re.M))
    assert fields["Package"] == "jmb"
    assert "adduser" in fields["Depends"], "postinst creates the account with adduser"
    assert fields["Section"] == "net"
    # dpkg never overwrites an edited /etc/jmb/jmb.toml: it is a conffile...
    assert ctrl["conffiles"][1].split() == ["/etc/jmb/jmb.toml"]
    mode, postinst = ctrl["postinst"]
    assert mode == "0o755"
    # ...and no maintainer script writes it.
    for name in ("postinst", "postrm", "prerm"):
        if name in ctrl:
            script = ctrl[name][1]
            assert not re.search(r"(>|cp |install |mv |sed -i).*?/etc/jmb/jmb\.toml", script), name
            assert run(["sh", "-n"], input=script).returncode == 0, f"{name} is valid sh"
    # The dedicated system account, a private /etc/jmb, the secrets folder.
    assert "adduser --system" in postinst and "--ingroup jmb" in postinst and "/usr/sbin/nologin" in postinst
    assert "chmod 0750 /etc/jmb" in postinst
    assert "install -d -o root -g jmb -m 0750 /etc/jmb/secrets" in postinst
    # The unit is registered but not started before the site configures it.
    assert "deb-systemd-helper" in postinst
    postrm = ctrl["postrm"][1]
    purge = postrm.split("purge)")[1].split(";;")[0]
    # Purging keeps the database; only the rendered calendars beside it (a cache) go.
    assert "purge)" in postrm and "/var/lib/jmb/jmb.sqlite3-calendars" in purge
    assert "/var/lib/jmb" not in purge.replace("/var/lib/jmb/jmb.sqlite3-calendars", ""), "purging keeps the database"


def test_unit_verifies_and_is_hardened(tree, tmp_path):
    unit = (tree / "usr/lib/systemd/system/jmb.service").read_text()
    for line in ["User=jmb", "ProtectSystem=strict", "StateDirectory=jmb", "NoNewPrivileges=yes",
                 "ExecStart=/usr/bin/jmb serve --config /etc/jmb/jmb.toml"]:
        assert line in unit.splitlines(), line
    # systemd-analyze checks that the binary exists: point the copy at the extracted one.
    local = tmp_path / "jmb.service"
    local.write_text(unit.replace("/usr/bin/jmb", str(tree / "usr/bin/jmb")))
    r = run([tool("systemd-analyze"), "verify", str(local)])
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr
    # The check can fail: an unknown key is reported.
    bad = tmp_path / "bad.service"
    bad.write_text(local.read_text().replace("[Service]", "[Service]\nProtectSytem=strict"))
    assert "Unknown key" in run([tool("systemd-analyze"), "verify", str(bad)]).stderr
    r = run([tool("systemd-analyze"), "security", "--offline=true", str(local)])
    level = float(re.search(r"Overall exposure level for jmb\.service: ([0-9.]+)", r.stdout + r.stderr).group(1))
    assert level < 2.0, r.stdout


def test_packaged_configuration_runs_with_the_sites_values(tree, tmp_path):
    """The shipped /etc/jmb/jmb.toml, with only the site-specific paths moved into a test folder, passes
    the packaged binary's check-config, reading the secret from a Prosody host file."""
    prosody = tmp_path / "meet.example.org.cfg.lua"
    prosody.write_text('VirtualHost "meet.example.org"\n    authentication = "token"\n'
                       '    app_id = "jitsi-auth"\n    app_secret = "packaged-0123456789abcdef0123456789"\n')
    text = (tree / "etc/jmb/jmb.toml").read_text()
    text = (text.replace("/etc/prosody/conf.avail/meet.example.org.cfg.lua", str(prosody))
                .replace("/var/lib/jmb", str(tmp_path / "state"))
                .replace("/run/jmb/jmb.sock", str(tmp_path / "jmb.sock")))
    config = tmp_path / "jmb.toml"
    config.write_text(text)
    binary = str(tree / "usr/bin/jmb")
    r = run([binary, "check-config", str(config)])
    assert r.returncode == 0, r.stderr
    # Without the Prosody file, the key at fault is named.
    prosody.unlink()
    r = run([binary, "check-config", str(config)])
    assert r.returncode == 2 and "jitsi.prosody_config" in r.stderr, r.stderr
