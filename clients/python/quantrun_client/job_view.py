"""A job as the client holds it: the API's JSON with typed accessors, its tables, and
how it shows itself in Jupyter. ``Job`` (``Client``) and ``AsyncJob`` (``AsyncClient``)
add the calls; what they share, without I/O, is here."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

import pandas as pd

from quantrun_client import frames
from quantrun_client._calls import TERMINAL
from quantrun_client.errors import JobCancelled, JobFailed, JobNotFinished

CHARTS = "charts.json"
VALUES = "values.parquet"
# figures shown in a job's notebook card, at most
CARD_FIGURES = 12


class JobView:
    """The job's state as last read (``data``: the API's JSON)."""

    def __init__(self, data: Mapping[str, Any], base_url: str) -> None:
        self.data: dict[str, Any] = dict(data)
        self._base_url = base_url

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def model(self) -> str | None:
        return self.data.get("model")

    @property
    def status(self) -> str:
        return str(self.data.get("status"))

    @property
    def progress(self) -> float:
        return float(self.data.get("progress") or 0.0)

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.data.get("params") or {})

    @property
    def error(self) -> dict[str, Any] | None:
        return self.data.get("error")

    @property
    def shards(self) -> dict[str, int] | None:
        return self.data.get("shards")

    @property
    def artifacts(self) -> list[str]:
        return [a["name"] for a in self.data.get("artifacts") or []]

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    @property
    def result(self) -> dict[str, Any]:
        """The result of a succeeded job; JobFailed, JobCancelled or JobNotFinished else."""
        self._check_succeeded()
        result = self.data.get("result")
        if result is None:
            raise JobNotFinished(
                f"job {self.id}'s result was not read (listed without it): refresh the job",
                code="result_not_loaded",
            )
        return dict(result)

    def _check_succeeded(self) -> None:
        if self.status == "failed":
            error = self.error or {}
            raise JobFailed(
                str(error.get("message", "the job failed")), code=str(error.get("code", "failed"))
            )
        if self.status == "cancelled":
            raise JobCancelled(f"job {self.id} was cancelled", code="cancelled")
        if self.status != "succeeded":
            raise JobNotFinished(
                f"job {self.id} is {self.status}: call wait() first", code="not_finished"
            )

    def _source(self, name: str | None) -> tuple[str, str]:
        """Where ``frame(name)`` reads from: ("artifact"|"chart"|"entry"|"arrays", name)."""
        self._check_succeeded()
        if name is None:
            return ("artifact", VALUES) if VALUES in self.artifacts else ("arrays", "")
        if name in self.artifacts and name != CHARTS:
            return "artifact", name
        if name in (self.data.get("result") or {}):
            return "entry", name
        if CHARTS in self.artifacts:
            return "chart", name
        raise KeyError(f"{name!r}: not an artifact or result entry of job {self.id}")

    @staticmethod
    def _download_for(kind: str, which: str) -> str | None:
        """The artifact ``frame`` reads for a table from ``_source``, if any."""
        return which if kind == "artifact" else CHARTS if kind == "chart" else None

    def _table(self, kind: str, name: str, data: bytes | None) -> pd.DataFrame:
        if kind == "artifact":
            assert data is not None
            return frames.artifact(name, data)
        if kind == "chart":
            assert data is not None
            charts = frames.charts_from(data)
            try:
                return frames.chart(charts, name)
            except KeyError:
                known = [*self.artifacts, *(self.data.get("result") or {}), *charts]
                raise KeyError(
                    f"{name!r}: not an artifact, result entry or chart of job {self.id} "
                    f"(it has {', '.join(known)})"
                ) from None
        if kind == "entry":
            return frames.entry(name, self.result[name])
        return frames.arrays(self.result)

    def _repr_html_(self) -> str:
        e = html.escape
        rows = [
            ("status", f"<b>{e(self.status)}</b>"),
            (
                "progress",
                f'<progress value="{self.progress:.3f}" max="1"></progress> '
                f"{100 * self.progress:.0f}%",
            ),
        ]
        if self.shards:
            rows.append(
                (
                    "shards",
                    e(
                        f"{self.shards['done']}/{self.shards['total']} done, "
                        f"{self.shards['failed']} failed"
                    ),
                )
            )
        if self.error:
            rows.append(("error", e(f"{self.error.get('code')}: {self.error.get('message')}")))
        for key, value in self._figures():
            rows.append((e(key), e(_number(value))))
        links = [
            f'<a href="{e(self._base_url)}{e(a["url"])}" target="_blank">{e(a["name"])}</a> '
            f"<small>({int(a.get('size_bytes') or 0):,} B)</small>"
            for a in self.data.get("artifacts") or []
        ]
        if links:
            rows.append(("artifacts", " · ".join(links)))
        console = f"{self._base_url}/#/jobs/{self.id}"
        rows.append(("console", f'<a href="{e(console)}" target="_blank">{e(console)}</a>'))
        body = "".join(
            f'<tr><th style="text-align:left">{k}</th><td style="text-align:left">{v}</td></tr>'
            for k, v in rows
        )
        title = e(f"QuantRun job {self.id} · {self.model}")
        return f"<div><p><b>{title}</b></p><table>{body}</table></div>"

    def _figures(self) -> list[tuple[str, Any]]:
        """The result's top-level figures (and its ``best`` set's), for the card."""
        result = self.data.get("result") or {}
        found = [(k, v) for k, v in result.items() if frames._scalar(v)]
        best = result.get("best")
        if isinstance(best, Mapping):
            found += [(f"best.{k}", v) for k, v in best.items() if frames._scalar(v)]
        return found[:CARD_FIGURES]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id} {self.model} {self.status} {self.progress:.0%}>"


def _number(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)
