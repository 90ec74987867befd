"""Forms for the reward catalogue, grants, fulfilment and the tax settings."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DecimalField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

KIND_LABELS = {"gift": _l("Gift"), "voucher": _l("Voucher"), "travel": _l("Travel"),
               "hospitality": _l("Hospitality")}
STATUS_LABELS = {"proposed": _l("Proposed"), "approved": _l("Approved"),
                 "rejected": _l("Rejected")}
FULFILMENT_LABELS = {"ordered": _l("Ordered"), "shipped": _l("Shipped"),
                     "delivered": _l("Delivered"), "cancelled": _l("Cancelled")}
FLAG_LABELS = {"ok": _l("below the limit"), "at_limit": _l("at the limit"),
               "over": _l("over the limit")}


def _choices(labels: dict) -> list[SelectChoice]:
    return [SelectChoice(k, v) for k, v in labels.items()]


TARGET_LABELS = {"member": _l("One member"), "event": _l("All attendees of an event"),
                 "tier": _l("All members of a tier")}


BASIS_SHORT = {"net": _l("net"), "gross": _l("gross")}
BASIS_LABELS = {"net": _l("net (the company deducts input VAT)"),
                "gross": _l("gross (no input VAT deduction)")}


class ItemForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    description = TextAreaField(_l("Description"), validators=[Optional()])
    net_value = DecimalField(_l("Net value (EUR, without VAT)"), places=2,
                             validators=[InputRequired(), NumberRange(min=0, max=99999999)])
    vat_rate = DecimalField(_l("VAT rate (%)"), places=2, default=19,
                            validators=[InputRequired(), NumberRange(min=0, max=100)])
    kind = SelectField(_l("Kind"), choices=_choices(KIND_LABELS),
                       validators=[DataRequired()])
    active = BooleanField(_l("Active (can be granted)"), default=True)


class GrantForm(FlaskForm):
    target = SelectField(_l("Recipients"), choices=_choices(TARGET_LABELS),
                         validators=[DataRequired()])
    member_q = StringField(_l("Find a member (name or e-mail)"),
                           validators=[Optional(), Length(max=200)])
    member_id = IntegerField(_l("Member"), validators=[Optional(), NumberRange(min=1)])
    target_id = IntegerField(_l("Event or tier id"),
                             validators=[Optional(), NumberRange(min=1)])
    item_id = SelectField(_l("Reward"), coerce=int, validators=[InputRequired()])
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=2000)])
    event_id = IntegerField(_l("Related event id (optional)"),
                            validators=[Optional(), NumberRange(min=1)])

    def validate(self, extra_validators=None) -> bool:
        """One member is picked from the search (its id); an event or a tier is named by id."""
        if not super().validate(extra_validators):
            return False
        if self.target.data == "member":
            if not (self.member_id.data or self.target_id.data):
                self.member_id.errors.append(_l("Search for the member and choose one."))
                return False
        elif not self.target_id.data:
            self.target_id.errors.append(_l("Enter the id of the event or tier."))
            return False
        return True

    @property
    def recipient_id(self) -> int | None:
        """The member, event or tier the grant goes to (a picked member wins)."""
        if self.target.data == "member":
            return self.member_id.data or self.target_id.data
        return self.target_id.data


class FulfilmentForm(FlaskForm):
    status = SelectField(_l("Fulfilment"), choices=_choices(FULFILMENT_LABELS),
                         validators=[DataRequired()])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=500)])


def _source(label):
    return TextAreaField(label, validators=[DataRequired(), Length(max=1000)],
                         render_kw={"rows": 2})


class TaxYearForm(FlaskForm):
    """The rules of one year; every figure has its source next to it."""

    gift_limit = DecimalField(_l("Gift limit per recipient and year (EUR)"), places=2,
                              validators=[InputRequired(), NumberRange(min=0, max=100000)])
    gift_limit_source = _source(_l("Source of the gift limit"))
    limit_basis = SelectField(_l("The limit test counts"), choices=_choices(BASIS_LABELS),
                              validators=[DataRequired()])
    limit_basis_source = _source(_l("Source of the limit basis"))
    flat_tax_opted_in = BooleanField(
        _l("The company pays the flat-rate tax for this year (§ 37b EStG)"))
    flat_tax_source = _source(_l("Source of the opt-in"))
    flat_rate = DecimalField(_l("Flat-rate tax (%)"), places=2,
                             validators=[InputRequired(), NumberRange(min=0, max=100)])
    flat_rate_source = _source(_l("Source of the flat-rate tax"))
    flat_tax_cap = DecimalField(_l("Flat-rate tax at most per recipient and year (EUR)"),
                                places=2, validators=[InputRequired(),
                                                      NumberRange(min=0, max=99999999)])
    flat_tax_cap_source = _source(_l("Source of the maximum"))
    giveaway_limit = DecimalField(_l("Give-aways left out of the flat-rate tax up to (EUR)"),
                                  places=2, validators=[InputRequired(),
                                                        NumberRange(min=0, max=100000)])
    giveaway_source = _source(_l("Source of the give-away limit"))
    include_hospitality = BooleanField(_l("Count event hospitality per attendee in the ledger"))


class ApprovalForm(FlaskForm):
    """Four eyes and the sender of the § 37b notices (programme settings, audited)."""

    four_eyes = BooleanField(_l("Four eyes: the proposer of a grant cannot approve it"))
    four_eyes_above = DecimalField(_l("… for grants above (EUR, gross)"), places=2,
                                   validators=[InputRequired(),
                                               NumberRange(min=0, max=99999999)])
    company = StringField(_l("Company name on flat-rate tax notices"),
                          validators=[Optional(), Length(max=300)])
