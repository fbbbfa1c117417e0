"""Jitsi tokens checked with PyJWT exactly as Prosody's token_verification would (test-peers.md §7).

Books a meeting starting at the next quarter hour (hosts may enter 15 min early), then follows the owner's
token route `/m/{room}` and an external moderator's personal link `/j/{token}` and verifies the `jwt`
parameter of the redirect: header, signature, audience, issuer, required claims without leeway, integer
times, lifetimes (900 s owner, 1800 s external moderator) and string-only `context.user` values.
"""
import time
import urllib.parse

import jwt
import pytest

from conftest import JITSI, SECRET, next_quarter_soon

DOMAIN = urllib.parse.urlsplit(JITSI).hostname


def check(token: str, room: str, secret: str = SECRET) -> dict:
    header = jwt.get_unverified_header(token)
    assert header.get("typ") == "JWT", header  # luajwtjitsi rejects anything else
    assert header.get("alg") == "HS256", header
    claims = jwt.decode(token, secret, algorithms=["HS256"], audience="jitsi", issuer="jitsi-auth",
                        options={"require": ["iss", "aud", "sub", "room", "exp", "nbf"]}, leeway=0)
    assert isinstance(claims["exp"], int) and isinstance(claims["nbf"], int), claims
    assert claims["room"] == room.lower() and claims["sub"] == DOMAIN, claims
    assert claims["nbf"] <= time.time() < claims["exp"], claims
    user = claims["context"]["user"]
    assert all(isinstance(v, str) for v in user.values()), user  # strings only: "moderator": "true"
    assert user["moderator"] == "true" and user["affiliation"] == "owner", user
    return claims


def token_from(location: str, room: str) -> str:
    parts = urllib.parse.urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}" == JITSI, location
    assert parts.path == f"/{room}", location
    query = urllib.parse.parse_qs(parts.query)
    assert list(query) == ["jwt"] and len(query["jwt"]) == 1, location
    return query["jwt"][0]


@pytest.fixture(scope="module")
def meeting(jmb):
    start = next_quarter_soon()
    return jmb.book("Point JWT", start, 30,
                    moderators=["Ext Mod <ext.mod@partner.net>", "marie.martin@example.org"],
                    guests=["guest.one@example.com"])


def test_owner_token_route(jmb, meeting):
    room = meeting["room"]
    before = int(time.time())
    r = jmb.session("jdupont").get(f"{jmb.url}/m/{room}", allow_redirects=False, timeout=10)
    after = int(time.time())
    assert r.status_code == 302, r.text[:500]
    claims = check(token_from(r.headers["Location"], room), room)
    assert before - 5 <= claims["nbf"] <= after - 5 + 1
    assert claims["exp"] - claims["nbf"] == 900 + 5, "owner tokens live 900 s from issue"
    assert claims["iss"] == "jitsi-auth" and claims["aud"] == "jitsi"
    user = claims["context"]["user"]
    assert user["id"] == "jdupont"
    assert user["name"] == "Jean Dupont"
    assert user["email"] == "jean.dupont@example.org"


def test_external_moderator_personal_link(jmb, meeting):
    room = meeting["room"]
    ext = next(a for a in meeting["attendees"] if a["mail"] == "ext.mod@partner.net")
    assert ext["role"] == "moderator"
    r = jmb.session().get(ext["join_url"], allow_redirects=False, timeout=10)  # no sign-in: the link is enough
    assert r.status_code == 302, r.text[:500]
    claims = check(token_from(r.headers["Location"], room), room)
    assert claims["exp"] - claims["nbf"] == 1800 + 5, "external moderator tokens live 1800 s"
    user = claims["context"]["user"]
    assert user["id"].startswith("jmb-attendee-"), user
    assert user["name"] == "Ext Mod", user
    assert user["email"] == "ext.mod@partner.net", user
    # The same link again yields a token with the same stable id.
    again = jmb.session().get(ext["join_url"], allow_redirects=False, timeout=10)
    assert check(token_from(again.headers["Location"], room), room)["context"]["user"]["id"] == user["id"]


def test_internal_moderator_link_goes_through_sign_in(jmb, meeting):
    marie = next(a for a in meeting["attendees"] if a["mail"] == "marie.martin@example.org")
    r = jmb.session().get(marie["join_url"], allow_redirects=False, timeout=10)
    assert r.status_code == 302
    assert r.headers["Location"].endswith(f"/m/{meeting['room']}"), r.headers["Location"]
    r = jmb.session("mmartin").get(f"{jmb.url}/m/{meeting['room']}", allow_redirects=False, timeout=10)
    assert r.status_code == 302
    claims = check(token_from(r.headers["Location"], meeting["room"]), meeting["room"])
    assert claims["context"]["user"]["id"] == "mmartin"
    assert claims["exp"] - claims["nbf"] == 900 + 5


def test_wrong_secret_fails_verification(jmb, meeting):
    room = meeting["room"]
    r = jmb.session("jdupont").get(f"{jmb.url}/m/{room}", allow_redirects=False, timeout=10)
    token = token_from(r.headers["Location"], room)
    with pytest.raises(jwt.InvalidSignatureError):
        check(token, room, secret="another-secret-0123456789abcdef0123456789")
    # A token whose payload was tampered with (moderator rights for a guest room) fails too.
    head, body, sig = token.split(".")
    forged = jwt.encode({**jwt.decode(token, options={"verify_signature": False}), "room": "other"},
                        "x" * 40, algorithm="HS256").split(".")[1]
    with pytest.raises(jwt.InvalidSignatureError):
        check(f"{head}.{forged}.{sig}", "other")


def test_guest_gets_no_token(jmb, meeting):
    guest = next(a for a in meeting["attendees"] if a["role"] == "guest")
    r = jmb.session().get(guest["join_url"], allow_redirects=False, timeout=10)
    # Guests may enter 5 minutes early only: either the waiting page, or the room without a token.
    if r.status_code == 302:
        assert "jwt=" not in r.headers["Location"], r.headers["Location"]
        assert r.headers["Location"] == f"{JITSI}/{meeting['room']}"
    else:
        assert r.status_code == 200 and "jwt=" not in r.text
