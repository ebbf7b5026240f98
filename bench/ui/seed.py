"""Gives the demo site the content its pages show (an idea, a support
conversation, canned answers, a perk rule and award, two change proposals, a
webhook, a social handle, a device playing a stream) through the JSON API, as
the browser walk test's `seeded_site` does, and writes the page lists.

Usage: seed.py BASE ADMIN_EMAIL ADMIN_PASSWORD AGENT_EMAIL VIEWER_EMAIL PASSWORD OUT.json
       seed.py --alert BASE ADMIN_EMAIL ADMIN_PASSWORD OUT.json  (after `marquee demo
       backlash`: adds the newest listening alert's page to the staff lists)
OUT.json: {"tid", "series_id", "idea_id", "conv_id", "alert_id", "ingest_token",
"pages": {"visitor": [...], "viewer": [...], "agent": [...], "admin": [...]},
"lighthouse": [[role, path], ...]}.
"""
import json
import sys
import urllib.error
import urllib.parse
import urllib.request


def call(base, path, body=None, token=None, method=None):
    req = urllib.request.Request(
        base + path, data=None if body is None else json.dumps(body).encode(), method=method
    )
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req) as r:
            raw = r.read()
            return json.loads(raw) if raw else {}
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{method or ('POST' if body is not None else 'GET')} {path}: {e.code} {e.read()[:300]!r}")


def login(base, email, password):
    return call(base, "/api/v1/auth/login", {"email": email, "password": password})["token"]


def main():
    base, admin_email, admin_pw, agent_email, viewer_email, pw, out = sys.argv[1:8]
    admin = login(base, admin_email, admin_pw)
    login(base, agent_email, pw)  # the account works
    viewer = login(base, viewer_email, pw)
    viewer_id = call(base, "/api/v1/me", token=viewer)["account"]["id"]

    tid = call(base, "/api/v1/search?q=heat&limit=1", token=viewer)[0]["id"]
    series = call(base, "/api/v1/titles?kind=series&limit=1", token=viewer)
    series = series.get("items", series.get("titles", [])) if isinstance(series, dict) else series
    series_id = series[0]["id"] if series else None
    genre = call(base, "/api/v1/genres")
    genre = genre[0] if genre else "Comedy"
    genre = genre.get("name", genre) if isinstance(genre, dict) else genre

    idea_id = call(
        base, "/api/v1/ideas", {"title": "Offline downloads on the TV", "description": "Please let me download films to watch on a flight."}, viewer
    )["id"]
    conv_id = call(base, "/api/v1/support/conversations", {"body": "My TV buffers every few minutes since yesterday."}, viewer)[
        "conversation"
    ]["id"]
    call(base, "/api/v1/staff/support/canned", {"shortcode": "hello", "body": "Hi there, thanks for writing to us."}, admin)
    call(
        base,
        "/api/v1/staff/perks/rules",
        {
            "name": "Thanks",
            "trigger": {"kind": "custom", "name": "thanks"},
            "conditions": [],
            "effect": {"kind": "credit", "amount_cents": 100, "message": "Thank you"},
            "budget": {"global": {"max_cents": 10000}, "per_profile": {"max_awards": 10, "period_days": 30}},
        },
        admin,
    )
    call(base, "/api/v1/staff/perks/events", {"kind": "custom", "account_id": viewer_id, "name": "thanks", "key": "k1"}, admin)
    for title in ["Split DVD rental into Qwikster", "A cheaper plan with ads"]:
        call(base, "/api/v1/staff/changes", {"kind": "product", "title": title, "body": "Why.", "planned_at": 4_000_000_000_000}, admin)
    call(base, "/api/v1/staff/changes/1/publish", {}, admin)
    call(base, "/api/v1/changes/1/comments", {"body": "Please don't split it"}, viewer)
    call(base, "/api/v1/webhooks", {"url": "https://hooks.example.com/marquee"}, admin)
    ingest = call(base, "/api/v1/listening/tokens", {"name": "feed"}, admin)["token"]
    call(base, "/api/v1/me/handles", {"handle": "@fan@mastodon.social"}, viewer)
    dev = call(base, "/api/v1/devices", {"name": "TV", "kind": "tv"}, viewer)
    call(base, "/api/v1/playback/start", {"title_id": tid, "device_id": dev["id"]}, viewer)

    visitor = ["/", "/login", "/signup", "/forgot", "/help", "/genres", "/ideas", "/changelog", "/search?q=heat", "/no-such-page"]
    viewer_pages = [
        "/",
        "/profiles",
        f"/titles/{tid}",
        *([f"/titles/{series_id}"] if series_id else []),
        "/genres",
        "/genres/" + urllib.parse.quote(genre),
        "/search?q=heat",
        "/ideas",
        "/ideas/new",
        f"/ideas/{idea_id}",
        "/ideas/launched",
        "/notifications",
        "/perks",
        "/support",
        f"/support/conversations/{conv_id}/transcript",
        "/account",
        "/account/streams",
        "/account/handles",
        "/account/password",
        "/onboarding",
        f"/watch/{tid}",
        "/changes/1",
        "/changelog",
        "/no-such-page",
    ]
    # The staff pages (marquee_server::STAFF_ROUTES' GET pages, then the
    # seeded items); the agent sees all but the admin-only ones.
    staff = [
        "/staff",
        "/staff/accounts",
        "/staff/accounts/1",
        "/staff/accounts?q=example&role=viewer&status=active",
        "/staff/ideas",
        f"/staff/ideas/{idea_id}/voice",
        "/staff/webhooks",
        "/listening",
        "/listening/posts",
        "/listening/tokens",
        "/staff/perks",
        "/staff/decisions",
        "/staff/support",
        "/staff/support/settings",
        "/staff/support/metrics",
        "/staff/support/drill?group=all&key=all",
        "/staff/recs",
        "/staff/changes",
        "/staff/changes/1",
        "/staff/changes/2",
        "/staff/catalog",
        f"/staff/catalog/{tid}",
        f"/staff/support/conversations/{conv_id}",
        f"/ideas/{idea_id}",
    ]

    def admin_only(p):
        return any(
            s in p
            for s in ["accounts", "account-events", "/staff/plans/", "/staff/changes", "webhooks", "/tokens", "/staff/catalog", "/staff/titles"]
        ) or p.endswith("/media")

    result = {
        "tid": tid,
        "series_id": series_id,
        "idea_id": idea_id,
        "conv_id": conv_id,
        "ingest_token": ingest,
        "pages": {
            "visitor": visitor,
            "viewer": viewer_pages,
            "agent": [p for p in staff if not admin_only(p)],
            "admin": staff,
        },
        "lighthouse": [
            ["viewer", "/"],
            ["viewer", f"/titles/{tid}"],
            ["viewer", f"/watch/{tid}"],
            ["viewer", "/ideas"],
            ["admin", "/listening"],
            ["admin", "/staff"],
        ],
    }
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"seeded: title {tid}, series {series_id}, idea {idea_id}, conversation {conv_id}")


def add_alert():
    base, admin_email, admin_pw, out = sys.argv[2:6]
    admin = login(base, admin_email, admin_pw)
    alerts = call(base, "/api/v1/listening/alerts", token=admin)
    alerts = alerts.get("alerts", alerts.get("items", [])) if isinstance(alerts, dict) else alerts
    with open(out) as f:
        result = json.load(f)
    if alerts:
        result["alert_id"] = alerts[0]["id"]
        for role in ("agent", "admin"):
            result["pages"][role].append(f"/listening/alerts/{alerts[0]['id']}")
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"listening alerts: {len(alerts)}")


if __name__ == "__main__":
    if sys.argv[1] == "--alert":
        add_alert()
    else:
        main()
