"""Sortable table columns: ``?sort=name`` or ``?sort=-name``, from a whitelist per table."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    order_by: tuple[str, ...]
    numeric: bool = False


class Sorter:
    """Reads the sort from the request; gives the ORDER BY and the header links."""

    def __init__(self, request: HttpRequest, columns: list[Column], default: str):
        self.request = request
        self.columns = {c.key: c for c in columns}
        wanted = request.GET.get("sort", default)
        key = wanted.lstrip("-")
        if key not in self.columns:
            wanted, key = default, default.lstrip("-")
        self.key, self.descending = key, wanted.startswith("-")
        # What the URL said, once checked: the lists' search forms send it back, so a search
        # keeps the sort (empty: the default, which the URL does not name).
        self.param = wanted if "sort" in request.GET and wanted != default else ""

    def order_by(self) -> list[str]:
        fields = self.columns[self.key].order_by
        if self.descending:
            return [f[1:] if f.startswith("-") else f"-{f}" for f in fields]
        return list(fields)

    @property
    def key_and_direction(self) -> tuple[str, bool]:
        return self.key, self.descending

    def header_map(self) -> dict[str, dict]:
        return dict(zip(self.columns, self.headers(), strict=True))

    def headers(self) -> list[dict]:
        """One entry per column: label, the ``sort`` value its link asks for (toggling
        direction; the tag ``sort_th`` keeps every other parameter), aria-sort."""
        result = []
        for key, column in self.columns.items():
            active = key == self.key
            aria = ("descending" if self.descending else "ascending") if active else "none"
            result.append(
                {
                    "label": column.label,
                    "sort": f"-{key}" if active and not self.descending else key,
                    "aria_sort": aria,
                    "numeric": column.numeric,
                }
            )
        return result
