"""What each stage of the answer path did, for `newsbot ask --explain` and the evaluation.

Every stage appends one record: its name and a small dict of plain values (strings, numbers,
lists). The trace is data only; nothing in the answer path reads it back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Trace:
    stages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    ranked: list[str] = field(default_factory=list)  # article URLs after ranking, best first
    ranked_ids: list[str] = field(default_factory=list)  # the same articles' ids
    retrieved: list[str] = field(default_factory=list)  # every retrieved article URL, in order
    decision: str = ""  # "answered" | why it declined

    def add(self, stage: str, **facts: Any) -> None:
        self.stages.append((stage, facts))

    def get(self, stage: str) -> dict[str, Any]:
        for name, facts in self.stages:
            if name == stage:
                return facts
        return {}

    def to_json(self) -> dict[str, Any]:
        return {
            "stages": [{"stage": n, **f} for n, f in self.stages],
            "ranked": self.ranked,
            "retrieved": self.retrieved,
            "decision": self.decision,
        }

    def format(self) -> str:
        lines: list[str] = []
        for name, facts in self.stages:
            lines.append(f"[{name}]")
            for key, value in facts.items():
                if isinstance(value, list) and value and isinstance(value[0], (dict, list)):
                    lines.append(f"  {key}:")
                    lines += [
                        f"    {json.dumps(v, ensure_ascii=False, default=str)}" for v in value
                    ]
                else:
                    lines.append(f"  {key}: {json.dumps(value, ensure_ascii=False, default=str)}")
        lines.append(f"[decision] {self.decision}")
        return "\n".join(lines)
