"""One table renderer for every table qhybrid prints or writes: the terminal and GitHub Markdown.

Callers format their own cells (digits, units, ``±``); this module only lays them out, through
`tabulate <https://pypi.org/project/tabulate/>`_, with the same columns and alignment in both styles:
text columns left, the columns named in ``numeric`` right (Markdown marks them ``---:``).

    >>> print(render_table(["model", "params"], [["mlp", "1,234"], ["dressed", "56"]], numeric={"params"}))
    model      params
    -------  --------
    mlp         1,234
    dressed        56
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from tabulate import tabulate

__all__ = ["STYLES", "render_table"]

#: style -> tabulate format: "simple" is a header, a dashed rule and space-separated columns; "pipe" is
#: GitHub-flavoured Markdown with alignment colons (tabulate's "github" format drops the colons).
STYLES = {"text": "simple", "markdown": "pipe"}


def render_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    numeric: Collection[str] = (),
    style: str = "text",
) -> str:
    """``rows`` (cells already formatted; ``None`` shows as empty) under ``headers``, as ``style``
    (``"text"`` or ``"markdown"``); the columns whose titles are in ``numeric`` are right-aligned."""
    if style not in STYLES:
        raise ValueError(f"table style must be one of {sorted(STYLES)}, got {style!r}")
    unknown = sorted(set(numeric) - set(headers))
    if unknown:
        raise ValueError(f"numeric columns {unknown} are not among the headers {list(headers)}")
    body = [["" if cell is None else str(cell) for cell in row] for row in rows]
    for i, row in enumerate(body):
        if len(row) != len(headers):
            raise ValueError(f"row {i} has {len(row)} cells for {len(headers)} columns")
    if style == "markdown":  # a bare | would end the cell early
        body = [[cell.replace("|", "\\|") for cell in row] for row in body]
    text = tabulate(
        body,
        headers=list(headers),
        tablefmt=STYLES[style],
        colalign=["right" if h in numeric else "left" for h in headers],
        disable_numparse=True,  # cells are text already: "1,234" and "0.70 ± 0.02" stay as written
    )
    return "\n".join(line.rstrip() for line in text.splitlines())
