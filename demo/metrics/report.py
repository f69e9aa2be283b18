"""Measured figures with their target ranges, and the report that prints them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Figure:
    """One measured figure and the range a real book of this kind shows (None: no target)."""

    name: str
    value: float
    low: float | None = None
    high: float | None = None
    percent: bool = True
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.low is None and self.high is None:
            return ""
        if np.isnan(self.value):
            return "FAIL"
        ok = (self.low is None or self.value >= self.low) and (
            self.high is None or self.value <= self.high
        )
        return "PASS" if ok else "FAIL"

    def show(self, value: float | None) -> str:
        if value is None:
            return ""
        if np.isnan(value):
            return "n/a"
        return f"{value:.1%}" if self.percent else f"{value:,.2f}".rstrip("0").rstrip(".")

    @property
    def target(self) -> str:
        if self.low is None and self.high is None:
            return ""
        if self.high is None:
            return f">= {self.show(self.low)}"
        if self.low is None:
            return f"<= {self.show(self.high)}"
        return f"{self.show(self.low)}-{self.show(self.high)}"


@dataclass
class Report:
    figures: list[Figure] = field(default_factory=list)
    tables: list[tuple[str, list[str]]] = field(default_factory=list)

    def add(self, *args: Any, **kwargs: Any) -> Figure:
        figure = Figure(*args, **kwargs)
        self.figures.append(figure)
        return figure

    def __getitem__(self, name: str) -> Figure:
        return next(f for f in self.figures if f.name == name)

    def text(self) -> str:
        width = max(len(f.name) for f in self.figures)
        lines = [f"{'figure':<{width}}  {'target':>13}  {'measured':>9}  verdict"]
        for f in self.figures:
            note = f"  ({f.note})" if f.note else ""
            lines.append(
                f"{f.name:<{width}}  {f.target:>13}  {f.show(f.value):>9}  {f.verdict}{note}"
            )
        for title, body in self.tables:
            lines += ["", title, *body]
        return "\n".join(lines)
