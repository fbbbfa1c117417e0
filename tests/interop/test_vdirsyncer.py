"""vdirsyncer (0.21) syncs jmb's CalDAV calendar into a local folder, as a person's sync setup would
(test-peers.md §5): a full sync (PROPFIND Depth 1 + multiget) and a windowed one (start_date/end_date, which
sends calendar-query with a time range); then jmb changes one meeting and deletes another, and the next sync
must update the file and remove the other.
"""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import icalendar
import pytest

from conftest import quarter_in

VDIRSYNCER = Path(sys.executable).with_name("vdirsyncer")


class Vdir:
    def __init__(self, root: Path, jmb, password: str, window: tuple | None = None):
        self.root = root
        (root / "cal").mkdir(parents=True)
        (root / "status").mkdir()
        self.config = root / "config"
        extra = ""
        if window:
            s, e = window
            extra = (f'start_date = "datetime({s.year}, {s.month}, {s.day})"\n'
                     f'end_date = "datetime({e.year}, {e.month}, {e.day})"\n')
        self.config.write_text(textwrap.dedent(f"""\
            [general]
            status_path = "{root}/status/"

            [pair jmb]
            a = "jmb_local"
            b = "jmb_remote"
            collections = ["from b"]
            conflict_resolution = "b wins"

            [storage jmb_local]
            type = "filesystem"
            path = "{root}/cal/"
            fileext = ".ics"

            [storage jmb_remote]
            type = "caldav"
            url = "{jmb.url}/"
            username = "jdupont"
            password = "{password}"
            read_only = true
            """) + extra)

    def run(self, *args: str) -> None:
        assert VDIRSYNCER.exists(), f"{VDIRSYNCER} missing: run scripts/install-test-deps"
        env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
        res = subprocess.run([str(VDIRSYNCER), "-c", str(self.config), *args], input="y\n" * 5,
                             capture_output=True, text=True, env=env, timeout=120)
        assert res.returncode == 0, res.stdout + res.stderr
        assert "error" not in res.stderr.lower(), res.stderr

    def sync(self) -> dict[str, tuple[Path, icalendar.Event]]:
        if not (self.root / "cal" / "meetings").exists():
            self.run("discover")
        self.run("sync")
        out = {}
        for f in sorted((self.root / "cal" / "meetings").glob("*.ics")):
            events = icalendar.Calendar.from_ical(f.read_bytes()).walk("VEVENT")
            assert len(events) == 1, f"{f.name}: one VEVENT per resource"
            uid = str(events[0]["UID"])
            assert uid not in out, f"{uid} synced twice"
            out[uid] = (f, events[0])
        return out


@pytest.fixture(scope="module")
def meetings(jmb):
    return {
        "keep": jmb.book("Suivi mensuel", quarter_in(3, 8, 30), 60, guests=["guest.one@example.com"]),
        "change": jmb.book("Avant changement", quarter_in(4, 13), 120,
                           moderators=["Ext Mod <ext.mod@partner.net>"], guests=["guest.two@example.com"]),
        "delete": jmb.book("À supprimer", quarter_in(4, 15), 30, guests=["guest.three@example.com"]),
        "far": jmb.book("Plus tard", quarter_in(20, 10), 60, guests=["guest.four@example.com"]),
    }


@pytest.fixture(scope="module")
def syncs(jmb, meetings, tmp_path_factory):
    password = jmb.dav_password("jdupont")
    full = Vdir(tmp_path_factory.mktemp("vdir-full"), jmb, password)
    window = Vdir(tmp_path_factory.mktemp("vdir-window"), jmb, password, (quarter_in(2, 0), quarter_in(6, 0)))
    return full, window


def test_full_then_windowed_then_changes(jmb, meetings, syncs):
    full, window = syncs
    uid = {k: m["uid"] for k, m in meetings.items()}

    got = full.sync()
    assert sorted(got) == sorted(uid.values())
    assert str(got[uid["change"]][1]["SUMMARY"]) == "Avant changement"
    assert str(got[uid["delete"]][1]["SUMMARY"]) == "À supprimer"

    got_w = window.sync()
    assert sorted(got_w) == sorted([uid["keep"], uid["change"], uid["delete"]]), "the far meeting is out of the window"

    changed_file = got[uid["change"]][0]
    kept_file, kept_before = got[uid["keep"]][0], got[uid["keep"]][0].read_bytes()
    updated = jmb.update(meetings["change"], subject="Après changement")
    assert updated["subject"] == "Après changement"
    jmb.delete(meetings["delete"])

    got = full.sync()
    assert sorted(got) == sorted([uid["keep"], uid["change"], uid["far"]]), "deleted meeting removed locally"
    assert str(got[uid["change"]][1]["SUMMARY"]) == "Après changement"
    assert got[uid["change"]][0] == changed_file, "same file, updated in place"
    assert not got.get(uid["delete"])
    assert kept_file.read_bytes() == kept_before, "unchanged meetings are not rewritten"

    got_w = window.sync()
    assert sorted(got_w) == sorted([uid["keep"], uid["change"]])
    assert str(got_w[uid["change"]][1]["SUMMARY"]) == "Après changement"

    # A second sync with nothing changed is a no-op.
    snapshot = {u: f.read_bytes() for u, (f, _) in got.items()}
    again = full.sync()
    assert {u: f.read_bytes() for u, (f, _) in again.items()} == snapshot
