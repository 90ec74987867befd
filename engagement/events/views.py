"""Event pages: list, create/edit, publish, cancel, invite, calendar download, invitation link."""
from __future__ import annotations

from datetime import datetime
from decimal import InvalidOperation
from zoneinfo import ZoneInfo

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from ..db import paginate
from ..extensions import db
from ..security import Role, public, roles_required
from ..timeutil import utcnow
from ..web import ConfirmForm, page_arg
from . import notifications, rules, services
from .blueprint import bp, event_or_404, invitation_from_token
from .calendar.ics import build_calendar
from .forms import EMPTY_QUESTION_ROWS, EventForm, InviteForm, SegmentInviteForm
from .models import Event, EventStatus
from .rsvp import services as rsvp
from .rsvp import views as rsvp_views

PER_PAGE = 50


def _local_naive(value: datetime | None, tz_name: str) -> datetime | None:
    return None if value is None else value.astimezone(ZoneInfo(tz_name)).replace(tzinfo=None)


def _fill_form(form: EventForm, event: Event) -> None:
    for name in ("title", "description", "venue", "address", "timezone", "capacity",
                 "plus_one_allowed", "organizer_name", "organizer_email", "reminder_days"):
        getattr(form, name).data = getattr(event, name)
    form.required_agreement_key.data = event.required_agreement_key or ""
    form.starts_at.data = _local_naive(event.starts_at, event.timezone)
    form.ends_at.data = _local_naive(event.ends_at, event.timezone)
    form.rsvp_deadline.data = _local_naive(event.rsvp_deadline, event.timezone)
    form.per_attendee_cost.data = (
        "" if event.per_attendee_cost is None else str(event.per_attendee_cost))
    while len(form.questions.entries):
        form.questions.pop_entry()
    for q in event.questions:
        form.questions.append_entry({"label": q.label, "kind": q.kind,
                                     "choices": ", ".join(q.choices or []),
                                     "required": q.required})
    for _i in range(EMPTY_QUESTION_ROWS):
        form.questions.append_entry()


def _local_error(exc: rules.InvalidLocalTime) -> str:
    if exc.kind == "nonexistent":
        return _("%(stamp)s does not exist in %(zone)s: the clocks skip that hour when daylight "
                 "saving time starts.", **exc.params)
    if exc.kind == "ambiguous":
        return _("%(stamp)s occurs twice in %(zone)s when daylight saving time ends; choose "
                 "another time.", **exc.params)
    return _("Enter a date and time.")


def _input_from_form(form: EventForm) -> rules.EventInput | None:
    """Turn the form into EventInput; puts errors on the fields and returns None on failure."""
    ok = True
    try:
        tz = rules.zone(form.timezone.data)
    except rules.InvalidTimeZone:
        form.timezone.errors.append(_("Unknown time zone."))
        return None
    times = {}
    for name in ("starts_at", "ends_at", "rsvp_deadline"):
        value = getattr(form, name).data
        if value is None:
            times[name] = None
            continue
        try:
            times[name] = rules.localize(value, tz).astimezone(ZoneInfo("UTC"))
        except rules.InvalidLocalTime as exc:
            getattr(form, name).errors.append(_local_error(exc))
            ok = False
    try:
        cost = rules.parse_cost(form.per_attendee_cost.data)
    except (InvalidOperation, ValueError):
        form.per_attendee_cost.errors.append(_("Enter an amount such as 25.00."))
        ok = False
    questions = []
    for entry in form.questions.entries:
        q = entry.form
        if not (q.label.data or "").strip():
            continue
        questions.append(rules.QuestionInput(
            label=q.label.data.strip(), kind=q.kind.data,
            choices=tuple(c.strip() for c in (q.choices.data or "").split(",") if c.strip()),
            required=bool(q.required.data)))
    if not ok or times.get("starts_at") is None or times.get("ends_at") is None:
        return None
    values = rules.EventInput(
        title=form.title.data or "", description=form.description.data or "",
        venue=form.venue.data or "", address=form.address.data or "",
        starts_at=times["starts_at"], ends_at=times["ends_at"], timezone=tz.key,
        capacity=form.capacity.data, rsvp_deadline=times["rsvp_deadline"],
        plus_one_allowed=bool(form.plus_one_allowed.data), per_attendee_cost=cost,
        organizer_name=form.organizer_name.data or "",
        organizer_email=(form.organizer_email.data or "").strip(),
        reminder_days=form.reminder_days.data, questions=tuple(questions),
        required_agreement_key=form.required_agreement_key.data or None)
    try:
        return rules.validate_event(values)
    except rules.EventRuleError as exc:
        messages = {
            "ends_at": _("The end must be after the start (and at most 31 days later)."),
            "rsvp_deadline": _("The RSVP deadline must not be after the start."),
            "capacity": _("The capacity must be at least 1 (leave empty for no limit)."),
            "per_attendee_cost": _("The cost must be between 0 and 99,999,999.99."),
            "organizer_email": _("A valid organizer e-mail address is required."),
            "title": _("A title of at most 200 characters is required."),
            "reminder_days": _("Reminder days must be between 1 and 60."),
        }
        single_line = _("Must be a single line (no line breaks or control characters).")
        for key in exc.errors:
            if exc.errors[key].startswith("must be a single line"):
                getattr(form, key).errors.append(single_line)
            elif key.startswith("questions."):
                form.questions.errors.append(
                    _("Question %(n)s: a choice question needs at least two choices.",
                      n=key.split(".")[1]))
            elif hasattr(form, key):
                getattr(form, key).errors.append(messages.get(key, exc.errors[key]))
        return None


def _default_organizer() -> tuple[str, str]:
    name = getattr(current_user, "name", "") or ""
    sender = current_app.config["MAIL_DEFAULT_SENDER"] or ""
    if isinstance(sender, tuple | list):
        return sender[0] or name, sender[1]
    return name, sender


@bp.route("/events")
@roles_required(Role.MANAGER, Role.HR)
def index():
    past = request.args.get("when") == "past"
    listing = paginate(db.session, services.events_query(past=past, now=utcnow()),
                       page=page_arg(), per_page=PER_PAGE)
    counts = services.invitation_counts(db.session, [e.id for e in listing.items])
    return render_template("events/index.html", events=listing.items, counts=counts,
                           past=past, page=listing.page, pages=listing.pages,
                           total=listing.total)


@bp.route("/events/new", methods=["GET", "POST"])
@roles_required(Role.MANAGER)
def create():
    form = EventForm(agreements=rsvp.agreement_choices(db.session))
    if request.method == "GET":
        form.timezone.data = current_app.config["DEFAULT_TIMEZONE"]
        form.organizer_name.data, form.organizer_email.data = _default_organizer()
    if form.validate_on_submit():
        values = _input_from_form(form)
        if values is not None:
            event = services.create_event(db.session, values, now=utcnow(),
                                          base_url=notifications.base_url(),
                                          user_id=current_user.id)
            flash(_("Event created as a draft. Publish it to send invitations."), "success")
            return redirect(url_for("events.detail", event_id=event.id))
    return render_template("events/form.html", form=form, event=None), (
        422 if request.method == "POST" else 200)


@bp.route("/events/<int:event_id>")
@roles_required(Role.MANAGER, Role.HR)
def detail(event_id: int):
    event = event_or_404(event_id)
    return _render_detail(event)


def _render_detail(event: Event, *, preview=None, preview_error=None, segment_form=None,
                   status: int = 200):
    counts = services.invitation_counts(db.session, [event.id])[event.id]
    guests = paginate(db.session, services.guest_list_query(event.id), page=page_arg(),
                      per_page=PER_PAGE, scalars=False, count=counts["total"])
    q = (request.args.get("q") or "").strip()
    found = (services.find_members_to_invite(db.session, q)
             if q and event.status == EventStatus.PUBLISHED else [])
    segment_form = segment_form or SegmentInviteForm(formdata=None)
    segment_form.segment_id.choices = _segment_choices()
    return render_template(
        "events/detail.html", event=event, counts=counts, invitations=guests.items,
        page=guests.page, pages=guests.pages, q=q, found=found,
        invite_form=InviteForm(formdata=None), segment_form=segment_form,
        confirm=ConfirmForm(), preview=preview, preview_error=preview_error,
        google_url=notifications.google_link(event),
        consents=rsvp.event_consents(db.session, event.id),
        incomplete=rsvp.incomplete(db.session, event.id),
        **rsvp_views.agreement_and_withdrawals(event)), status


def _segment_choices() -> list[tuple[str, str]]:
    choices = [("", _("— ad-hoc criteria below —"))]
    return choices + [(str(i), n) for i, n in services.segment_names(db.session)]


@bp.route("/events/<int:event_id>/edit", methods=["GET", "POST"])
@roles_required(Role.MANAGER)
def edit(event_id: int):
    event = event_or_404(event_id)
    if event.status == EventStatus.CANCELLED:
        flash(_("A cancelled event cannot be changed."), "error")
        return redirect(url_for("events.detail", event_id=event.id))
    form = EventForm(agreements=rsvp.agreement_choices(db.session))
    if request.method == "GET":
        _fill_form(form, event)
    elif form.validate_on_submit():
        values = _input_from_form(form)
        if values is not None:
            result = services.update_event(db.session, event, values, now=utcnow())
            if "capacity" in result.changed:
                rsvp.offer_free_seats(db.session, event, now=utcnow())
            if not result.changed:
                flash(_("Nothing changed."), "info")
            elif result.notified:
                flash(_("Event saved; an update was sent to %(n)s invitees.",
                        n=result.notified), "success")
            else:
                flash(_("Event saved."), "success")
            return redirect(url_for("events.detail", event_id=event.id))
    return render_template("events/form.html", form=form, event=event), (
        422 if request.method == "POST" else 200)


@bp.route("/events/<int:event_id>/publish", methods=["POST"])
@roles_required(Role.MANAGER)
def publish(event_id: int):
    event = event_or_404(event_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        services.publish_event(db.session, event, now=utcnow())
    except services.EventError as exc:
        flash(_(str(exc)), "error")
        return redirect(url_for("events.detail", event_id=event.id))
    flash(_("Event published. You can invite people now."), "success")
    return redirect(url_for("events.detail", event_id=event.id))


@bp.route("/events/<int:event_id>/cancel", methods=["GET", "POST"])
@roles_required(Role.MANAGER)
def cancel(event_id: int):
    event = event_or_404(event_id)
    form = ConfirmForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        try:
            notified = services.cancel_event(db.session, event, now=utcnow())
        except services.EventError as exc:
            flash(_(str(exc)), "error")
            return redirect(url_for("events.detail", event_id=event.id))
        flash(_("Event cancelled; %(n)s invitees are notified.", n=notified), "success")
        return redirect(url_for("events.detail", event_id=event.id))
    counts = services.invitation_counts(db.session, [event.id])[event.id]
    return render_template("events/cancel.html", event=event, form=form, counts=counts)


@bp.route("/events/<int:event_id>/event.ics")
@roles_required(Role.MANAGER, Role.HR)
def ics(event_id: int):
    event = event_or_404(event_id)
    return _ics_response(event, None)


def _ics_response(event: Event, url: str | None) -> Response:
    data = build_calendar(event, method="PUBLISH", now=utcnow(), url=url)
    response = Response(data, mimetype="text/calendar")
    response.headers["Content-Type"] = "text/calendar; charset=utf-8; method=PUBLISH"
    response.headers["Content-Disposition"] = f'attachment; filename="event-{event.id}.ics"'
    return response


def _criteria_from_form(form: SegmentInviteForm):
    """The criteria to invite: a saved segment, or the ad-hoc fields."""
    from ..community.segments import services as seg

    if form.segment_id.data:
        try:
            return seg.resolve_criteria(db.session, int(form.segment_id.data))
        except seg.InvalidCriteria:
            raise seg.InvalidCriteria(_("The saved segment no longer exists.")) from None
    else:
        def split(text):
            return [x.strip() for x in (text or "").split(",") if x.strip()]
        data = {"tiers": split(form.tiers.data), "regions": split(form.regions.data),
                "locales": split(form.locales.data),
                "active_within_days": form.active_within_days.data}
        if form.attended_within_days.data:
            data["extra"] = {"attended_event_within_days": form.attended_within_days.data}
        return seg.resolve_criteria(db.session, {k: v for k, v in data.items() if v})


@bp.route("/events/<int:event_id>/invite-segment", methods=["POST"])
@roles_required(Role.MANAGER)
def invite_segment(event_id: int):
    from ..community.segments import services as seg

    event = event_or_404(event_id)
    form = SegmentInviteForm()
    form.segment_id.choices = _segment_choices()
    if not form.validate_on_submit():
        return _render_detail(event, segment_form=form,
                              preview_error=_("Check the criteria."), status=422)
    try:
        criteria = _criteria_from_form(form)
    except (seg.InvalidCriteria, ValueError) as exc:
        return _render_detail(event, segment_form=form, preview_error=str(exc), status=422)
    if request.form.get("action") != "invite":
        preview = seg.preview(db.session, criteria, limit=50)
        return _render_detail(event, segment_form=form, preview=preview)
    return _do_invite(event, member_query=seg.segment_query(db.session, criteria))


@bp.route("/events/<int:event_id>/invite", methods=["POST"])
@roles_required(Role.MANAGER)
def invite(event_id: int):
    event = event_or_404(event_id)
    form = InviteForm()
    if not form.validate_on_submit():
        abort(400)
    ids, emails, bad = rules.parse_member_refs(form.members.data or "")
    ids += [int(x) for x in request.form.getlist("member_ids") if x.isdigit()]
    if bad:
        flash(_("Not a member id or e-mail address: %(items)s", items=", ".join(bad[:20])),
              "error")
        return redirect(url_for("events.detail", event_id=event.id))
    if not ids and not emails:
        flash(_("Pick at least one member."), "error")
        return redirect(url_for("events.detail", event_id=event.id))
    return _do_invite(event, member_ids=ids, emails=emails)


def _do_invite(event: Event, **who):
    try:
        result = services.invite(db.session, event, now=utcnow(), **who)
    except services.EventError as exc:
        flash(_(str(exc)), "error")
        return redirect(url_for("events.detail", event_id=event.id))
    return render_template("events/invite_result.html", event=event, result=result,
                           skipped_by_reason=_group_skipped(result))


def _group_skipped(result: services.InviteResult) -> dict[str, list[services.Skipped]]:
    groups: dict[str, list[services.Skipped]] = {}
    for s in result.skipped:
        groups.setdefault(s.reason, []).append(s)
    return groups


@bp.route("/i/<token>")
@public
def invitation_page(token: str):
    invitation, status = invitation_from_token(token)
    if invitation is None:
        return render_template("events/invitation_invalid.html", reason=status), status
    return rsvp_views.render_invitation(invitation, token)


@bp.route("/i/<token>/event.ics")
@public
def invitation_ics(token: str):
    invitation, status = invitation_from_token(token)
    if invitation is None:
        abort(status)
    url = notifications.invitation_url(invitation.id, invitation.nonce)
    return _ics_response(invitation.event, url)
