"""Small helpers for the engine conformance tests: chat calls, error bodies, Prometheus text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

_SAMPLE = re.compile(
    r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$"
)
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def chat(client: httpx.Client, model: str, content: str, **body: Any) -> httpx.Response:
    """POST one user message to /v1/chat/completions with extra body fields."""
    payload = {"model": model, "messages": [{"role": "user", "content": content}], **body}
    return client.post("/v1/chat/completions", json=payload)


def assert_openai_error(response: httpx.Response, status: int, error_type: str,
                        param: str | None) -> str:
    """The body is ``{"error": {"message", "type", "param", "code"}}``; returns the message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) >= {"message", "type", "param", "code"}, error
    assert error["type"] == error_type, error
    assert error["param"] == param, error
    assert error["code"] == status, error
    message: str = error["message"]
    assert isinstance(message, str), error
    assert message, error
    return message


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Metrics:
    types: dict[str, str]
    samples: list[Sample]

    def total(self, name: str, **labels: str) -> float:
        """Sum of a metric's samples over the label sets that carry all of `labels`."""
        return sum(sample.value for sample in self.samples if sample.name == name
                   and labels.items() <= sample.labels.items())

    def labels_of(self, name: str) -> list[dict[str, str]]:
        return [sample.labels for sample in self.samples if sample.name == name]


def parse_metrics(text: str) -> Metrics:
    types: dict[str, str] = {}
    samples: list[Sample] = []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
            continue
        match = _SAMPLE.match(line)
        if match is None:
            continue
        labels = dict(_LABEL.findall(match["labels"] or ""))
        samples.append(Sample(match["name"], labels, float(match["value"])))
    return Metrics(types, samples)


def scrape(client: httpx.Client) -> Metrics:
    response = client.get("/metrics")
    response.raise_for_status()
    return parse_metrics(response.text)
