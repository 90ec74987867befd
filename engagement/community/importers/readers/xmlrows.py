"""Safe streaming of `<row .../>` elements from big XML files (Stack Exchange dumps).

defusedxml's parser forbids entity declarations (no billion-laughs) and external
references, and never fetches the DTD a DOCTYPE names. Instead of building elements
(iterparse) the rows are taken straight from the parser's start events in 1 MB feeds,
so memory stays flat however large the file and each row knows its line number.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from ..records import ImportSetupError
from .base import CHUNK, ByteCounter, open_counted


class _RowTarget:
    def __init__(self, tag: str):
        self.tag, self.rows, self.parser = tag, [], None

    def start(self, tag, attrib):
        if tag == self.tag:
            self.rows.append((self.parser.parser.CurrentLineNumber, attrib))

    def end(self, tag):
        return None

    def data(self, data):
        return None

    def close(self):
        return None


def rows(path: Path, counter: ByteCounter, tag: str = "row") -> Iterator[tuple[int, dict]]:
    """(line, attributes) of every `tag` element; a clear ImportSetupError on bad XML."""
    target = _RowTarget(tag)
    parser = DefusedXMLParser(target=target, forbid_dtd=False, forbid_entities=True,
                              forbid_external=True)
    target.parser = parser
    with open_counted(path, counter) as fh:
        try:
            while True:
                chunk = fh.read(CHUNK)
                if chunk:
                    parser.feed(chunk)
                else:
                    parser.close()
                if target.rows:
                    batch, target.rows = target.rows, []
                    yield from batch
                if not chunk:
                    return
        except ParseError as exc:
            line = exc.position[0] if getattr(exc, "position", None) else None
            raise ImportSetupError(f"not well-formed XML ({_reason(exc)}); the file may be "
                                   "truncated or damaged", file=path.name, line=line) from None
        except DefusedXmlException as exc:
            raise ImportSetupError(
                f"refused: the XML declares entities or external references ({type(exc).__name__});"
                " data dumps never need them and they can be used for entity-expansion attacks",
                file=path.name, line=parser.parser.CurrentLineNumber) from None


def _reason(exc: ParseError) -> str:
    text = str(exc)
    return text.split(":", 1)[0] if ": line" in text else text
