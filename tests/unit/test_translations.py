"""Every user-facing string has a German translation (German is the default language)."""
from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
METHOD_MAP = [("engagement/**.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "lazy_gettext": None, "_l": None, "ngettext": (1, 2)}


def _catalog_ids() -> dict[str, str]:
    ids: dict[str, str] = {}
    for po in ROOT.joinpath("engagement").rglob("translations/de/LC_MESSAGES/messages.po"):
        with po.open("rb") as fh:
            for msg in read_po(fh):
                if msg.id:
                    key = msg.id if isinstance(msg.id, str) else msg.id[0]
                    text = msg.string if isinstance(msg.string, str) else (msg.string or [""])[0]
                    ids[key] = text
    return ids


def test_every_message_has_a_german_translation():
    translated = _catalog_ids()
    missing = []
    for filename, _lineno, message, _comments, _ctx in extract_from_dir(
        str(ROOT), METHOD_MAP, keywords=KEYWORDS, options_map={"templates/**.html": {}}
    ):
        key = message if isinstance(message, str) else message[0]
        if not translated.get(key):
            missing.append(f"{filename}: {key!r}")
    assert missing == [], "untranslated:\n" + "\n".join(sorted(set(missing)))
