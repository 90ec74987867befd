"""Member pages: list (search, filters, sort, pages), profile, leaderboards, dashboard, /me."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest

from engagement.community.members import services
from engagement.community.models import Member, MemberWindowStats, TierHistory
from engagement.extensions import db
from engagement.timeutil import local_today_and_month_start, utcnow
from tests.factories import add_days, make_member, make_tier


def _names(html: str) -> list[str]:
    return re.findall(r'<a href="/members/\d+">([^<]+)</a>', html)


def _stats(member, window, as_of, **values):
    row = MemberWindowStats(member_id=member.id, window_days=window, as_of=as_of,
                            **{k: values.get(k, 0) for k in services.LEADERBOARD_METRICS})
    db.session.add(row)
    return row


@pytest.fixture
def community(app):
    """Three tiers and a handful of members with lifetime and window figures."""
    with app.app_context():
        gold = make_tier("Gold PT", 12, "answers >= 100", color="#b45309")
        silver = make_tier("Silver PT", 11, "answers >= 10")
        anna = make_member(display_name="Anna Adler", email="anna@example.org", source="khoros",
                           external_id="K-1", region="Bayern", answers=120, posts=150,
                           accepted_solutions=30, kudos_received=40, score=850, tier_id=gold.id,
                           tier_since=datetime(2026, 1, 5, tzinfo=UTC),
                           last_active=utcnow() - timedelta(days=1))
        bert = make_member(display_name="Bert Brandt", email="bert@example.org", source="khoros",
                           external_id="K-2", region="Berlin", answers=20, posts=25,
                           accepted_solutions=2, kudos_received=5, score=90, tier_id=silver.id)
        carl = make_member(display_name="carl clever", email="carl@example.org",
                           source="stackexchange", external_id="77", region="Berlin",
                           answers=20, posts=30, accepted_solutions=1, score=55)
        dora = make_member(display_name="Dora Dreher", email="dora@example.org", source="khoros",
                           external_id="K-4", region=None, answers=0, score=0)
        today = date.today()
        _stats(anna, 30, today, answers=12, accepted_solutions=3, score=69)
        _stats(bert, 30, today, answers=15, score=30)
        _stats(anna, 365, today, answers=100, accepted_solutions=25, score=575)
        # A day of this month in the programme's time zone, also on the 1st.
        local_today, _ = local_today_and_month_start()
        this_month = max(local_today - timedelta(days=2), local_today.replace(day=1))
        add_days(anna, {this_month: {"answers": 4, "accepted_solutions": 1},
                        today - timedelta(days=40): {"answers": 6}})
        db.session.add(TierHistory(member_id=anna.id, from_tier_id=silver.id, to_tier_id=gold.id,
                                   at=utcnow() - timedelta(minutes=5), kind="promotion",
                                   reason="120 answers lifetime", actor="cli:compute-tiers"))
        db.session.add(TierHistory(member_id=anna.id, from_tier_id=None, to_tier_id=silver.id,
                                   at=datetime(2025, 3, 1, tzinfo=UTC), kind="promotion",
                                   reason="first tier", actor="cli:compute-tiers"))
        db.session.commit()
        yield {"gold": gold.id, "silver": silver.id, "anna": anna.id, "bert": bert.id,
               "carl": carl.id, "dora": dora.id}


def test_members_list_default_sort_is_score(client, login_as, community):
    login_as("manager")
    html = client.get("/members").get_data(as_text=True)
    assert _names(html) == ["Anna Adler", "Bert Brandt", "carl clever", "Dora Dreher"]
    assert "4 members found" in html


@pytest.mark.parametrize("query, expected", [
    ("anna", ["Anna Adler"]),            # any capitalisation
    ("CARL", ["carl clever"]),
    ("adler", ["Anna Adler"]),           # part of the name, not only its start
    ("ever", ["carl clever"]),
    ("bert@example", ["Bert Brandt"]),  # e-mail
    ("@EXAMPLE.org", ["Anna Adler", "Bert Brandt", "carl clever", "Dora Dreher"]),
    ("77", ["carl clever"]),            # exact external id
    ("K-", []),                         # external ids are matched exactly
    ("zzz", []),
    ("%", []),                          # LIKE wildcards in the text match only themselves
    ("_", []),
])
def test_members_search(client, login_as, community, query, expected):
    login_as("hr")
    html = client.get("/members", query_string={"q": query}).get_data(as_text=True)
    assert _names(html) == expected


def test_members_search_finds_part_of_a_name_and_literal_wildcards(client, login_as,
                                                                   community):
    make_member(display_name="Anna Schmidt", email="as@example.org")
    make_member(display_name="Rabatt 100% Paul", email="paul@example.org")
    make_member(display_name="under_score", email="u@example.org")
    db.session.commit()
    login_as("manager")

    def names(q):
        return _names(client.get("/members", query_string={"q": q}).get_data(as_text=True))

    assert names("Schmidt") == ["Anna Schmidt"]
    assert names("%") == ["Rabatt 100% Paul"]
    assert names("0%") == ["Rabatt 100% Paul"]
    assert names("_") == ["under_score"]
    assert names("d_r") == []  # "_" is not "any one character" ("under" has "der")


@pytest.mark.parametrize("query", ["anna", "Schmidt", "example.org", "%", "_", "77", "K-1",
                                   "ever", "zzz"])
def test_members_page_and_api_find_the_same_members(client, login_as, community, query):
    from engagement.accounts.services import create_token
    from tests.factories import make_user

    make_member(display_name="Anna Schmidt", email="as@example.org", source="khoros",
                external_id="K-9")
    make_member(display_name="100% Paul", email="p_aul@example.org")
    user = make_user(role="manager")
    _t, plain = create_token(db.session, user, "same")
    db.session.commit()
    # The page first: the fixture's app context outlives the requests, so `g` (and
    # Flask-Login's cached user) is shared by them; the API reads only its own token.
    login_as("manager")
    html = client.get("/members", query_string={"q": query, "sort": "name"}
                      ).get_data(as_text=True)
    body = client.get("/api/v1/members", query_string={"q": query, "per_page": 500},
                      headers={"Authorization": f"Bearer {plain}"}).get_json()
    assert sorted(_names(html)) == sorted(m["display_name"] for m in body["items"])
    assert body["total"] == len(body["items"])


def test_members_filters_and_sort(client, login_as, community):
    login_as("manager")
    c = community

    def names(**args):
        resp = client.get("/members", query_string=args)
        assert resp.status_code == 200
        return _names(resp.get_data(as_text=True))

    assert names(tier=c["gold"]) == ["Anna Adler"]
    assert names(tier="none") == ["carl clever", "Dora Dreher"]
    assert names(source="stackexchange") == ["carl clever"]
    assert names(region="Berlin", sort="name") == ["Bert Brandt", "carl clever"]
    # Ties (20 answers each) are broken by id, so pages never repeat or skip a row.
    assert names(sort="-answers") == ["Anna Adler", "carl clever", "Bert Brandt", "Dora Dreher"]
    assert names(sort="answers") == ["Dora Dreher", "Bert Brandt", "carl clever", "Anna Adler"]
    assert names(sort="-last_active")[0] == "Anna Adler"


def test_members_filter_dropdowns_list_existing_values(client, login_as, community):
    login_as("manager")
    html = client.get("/members").get_data(as_text=True)
    assert '<option value="stackexchange"' in html and '<option value="khoros"' in html
    assert '<option value="Bayern"' in html and '<option value="Berlin"' in html


def test_members_pagination(app, client, login_as, community):
    app.config["MEMBERS_PER_PAGE"] = 3
    login_as("manager")
    first = client.get("/members").get_data(as_text=True)
    second = client.get("/members?page=2").get_data(as_text=True)
    assert len(_names(first)) == 3 and _names(second) == ["Dora Dreher"]
    assert "Page 1 of 2" in first and 'rel="next"' in first
    # Past the end shows the last page instead of an empty one.
    assert _names(client.get("/members?page=99").get_data(as_text=True)) == ["Dora Dreher"]


@pytest.mark.parametrize("args", [
    {"sort": "bogus"}, {"sort": "--score"}, {"tier": "999"}, {"tier": "abc"}, {"page": "-1"},
    {"page": "9" * 30}, {"source": "nope"}, {"region": "<b>"}, {"q": "x" * 500},
    {"q": "%_'\""},
])
def test_members_bad_arguments_do_not_fail(client, login_as, community, args):
    login_as("manager")
    resp = client.get("/members", query_string=args)
    assert resp.status_code == 200


def test_unknown_tier_filter_is_reported(client, login_as, community):
    login_as("manager")
    html = client.get("/members?tier=999").get_data(as_text=True)
    assert "Unknown tier" in html and len(_names(html)) == 4


def test_profile_shows_metrics_windows_history_and_chart(client, login_as, community):
    login_as("manager")
    html = client.get(f"/members/{community['anna']}").get_data(as_text=True)
    assert "Anna Adler" in html and "K-1" in html and "anna@example.org" in html
    assert "Gold PT" in html and "Rank 1 by score" in html
    # lifetime 120 answers, 30-day window 12, 90-day window missing -> 0, 365-day 100
    row = re.search(r"<th scope=\"row\">Answers</th>(.*?)</tr>", html, re.S).group(1)
    assert re.findall(r'<td class="num">([^<]+)</td>', row) == ["120", "12", "0", "100"]
    # timeline newest first, with reason and actor
    assert html.index("120 answers lifetime") < html.index("first tier")
    assert "by cli:compute-tiers" in html
    assert '<svg class="chart column-chart"' in html
    # this month's 4 answers appear in the numbers table below the chart
    month_rows = re.findall(r'<tr><td>[^<]+</td><td class="num">(\d+)</td><td class="num">(\d+)'
                            r'</td></tr>', html)
    assert month_rows[0] == ("4", "1")


def test_profile_of_unknown_member_is_404(client, login_as, community):
    login_as("hr")
    assert client.get("/members/999999").status_code == 404


def test_profile_rank_counts_higher_scores(client, login_as, community):
    login_as("hr")
    html = client.get(f"/members/{community['carl']}").get_data(as_text=True)
    assert "Rank 3 by score" in html


@pytest.mark.parametrize("args, expected", [
    ({}, ["Anna Adler", "Bert Brandt", "carl clever"]),  # answers, all time; 0 is left out
    ({"metric": "score", "window": "30"}, ["Anna Adler", "Bert Brandt"]),
    ({"metric": "answers", "window": "30"}, ["Bert Brandt", "Anna Adler"]),
    ({"metric": "accepted_solutions", "window": "365"}, ["Anna Adler"]),
    ({"metric": "kudos_received", "window": "90"}, []),
])
def test_leaderboards(client, login_as, community, args, expected):
    login_as("manager")
    html = client.get("/leaderboards", query_string=args).get_data(as_text=True)
    assert _names(html) == expected


def test_leaderboard_ranks_share_ties(app, community):
    with app.app_context():
        rows, as_of = services.leaderboard(db.session, "answers", None)
    assert [(r.display_name, r.rank, r.value) for r in rows] == [
        ("Anna Adler", 1, 120), ("Bert Brandt", 2, 20), ("carl clever", 2, 20)]
    assert as_of is None


def test_leaderboard_bad_arguments_fall_back(client, login_as, community):
    login_as("manager")
    resp = client.get("/leaderboards?metric=drop%20table&window=7")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Unknown metric" in html and "Unknown period" in html
    assert _names(html)[0] == "Anna Adler"


def test_dashboard_figures(client, login_as, community):
    login_as("manager")
    html = client.get("/dashboard").get_data(as_text=True)
    kpis = re.findall(r'<div class="value">([^<]+)</div><div class="label">([^<]+)</div>', html)
    assert kpis == [("4", "Members"), ("2", "Members with a tier"),
                    ("2", "Active in the last 30 days"), ("27", "Answers in the last 30 days"),
                    ("3", "Accepted solutions in the last 30 days")]
    assert "1 promotion<" in html and "0 demotions" in html  # singular and plural
    assert "Members per tier" in html and '<svg class="chart bar-chart"' in html
    # tier table: Gold 1, Silver 1, no tier 2
    assert re.search(r"Gold PT</a></td>\s*<td class=\"num\">1</td>", html)
    assert re.search(r"No tier</a></td>\s*<td class=\"num\">2</td>", html)


def test_dashboard_on_an_empty_database(client, login_as):
    login_as("manager")
    resp = client.get("/dashboard")
    assert resp.status_code == 200
    assert "Window statistics have not been computed yet." in resp.get_data(as_text=True)


def test_community_activity_sums_per_month(app_any):
    with app_any.app_context():
        m = make_member()
        today = date(2026, 5, 20)
        add_days(m, {date(2026, 5, 1): {"answers": 2, "accepted_solutions": 1},
                     date(2026, 5, 19): {"answers": 3},
                     date(2026, 3, 31): {"answers": 7},
                     date(2025, 5, 31): {"answers": 100},  # 12 months back is outside
                     date(2026, 5, 21): {"answers": 50}})  # after today
        months = services.community_activity(db.session, today)
    assert len(months) == 12 and months[0].month == date(2025, 6, 1)
    assert (months[-1].answers, months[-1].accepted_solutions) == (5, 1)
    assert months[-3].answers == 7 and sum(m.answers for m in months) == 12


def test_search_and_distinct_values_on_each_backend(app_any):
    with app_any.app_context():
        for name, src, region in [("Émile Zola", "khoros", "Hessen"), ("emma", "csv", None),
                                  ("Bob", "csv", "Bayern")]:
            make_member(display_name=name, source=src, region=region)
        sources = services.distinct_values(db.session, Member.source)
        assert sources == ["csv", "khoros"]
        assert services.distinct_values(db.session, Member.region) == ["Bayern", "Hessen"]

        def search(**kw):
            page = services.members_page(db.session, services.MemberFilter(**kw), 1, 50)
            return [m.display_name for m in page.items], page.total

        assert search(q="emm", sort="name") == (["emma"], 1)
        assert search(q="émile") == (["Émile Zola"], 1)
        assert search(q="ZOLA") == (["Émile Zola"], 1)  # part of the name, any case
        assert search(q="mil") == (["Émile Zola"], 1)
        assert search(tier="none", region="Bayern") == (["Bob"], 1)
        assert search(sort="-last_active")[1] == 3


def test_me_shows_the_linked_members_profile_read_only(app, client, login_as, community):
    login_as("member", member_id=community["anna"])
    html = client.get("/me").get_data(as_text=True)
    assert "Anna Adler" in html and "120 answers lifetime" in html
    assert "by cli:compute-tiers" not in html  # staff details stay internal
    assert "/members/" not in html.split("<main", 1)[1]  # no links into staff pages


def test_me_without_a_linked_member(client, login_as):
    login_as("member")
    resp = client.get("/me")
    assert resp.status_code == 200
    assert "not linked to a community member" in resp.get_data(as_text=True)


def test_member_role_cannot_open_staff_pages(client, login_as, community):
    login_as("member", member_id=community["anna"])
    for url in ("/dashboard", "/members", f"/members/{community['bert']}", "/leaderboards"):
        assert client.get(url).status_code == 403


def test_pages_render_in_german(app, client, login_as, community):
    login_as("manager", locale="de")
    html = client.get("/dashboard").get_data(as_text=True)
    assert "Mitglieder mit Stufe" in html and "Bewegungen in diesem Monat" in html
    html = client.get(f"/members/{community['anna']}").get_data(as_text=True)
    assert "Stufenverlauf" in html and "Platz 1 nach Punkten" in html
    html = client.get("/leaderboards?window=30").get_data(as_text=True)
    assert "letzte 30 Tage" in html
