"""`[related]` of qtkit.toml: how relatedness is scored (`RelatedConfig`), and the
hashed vocabulary's size. Light on purpose: a relink with nothing to do reads only this."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Any

from .errors import ConfigError

FEATURES = 2**20  # hashed words per namespace; head columns come first, body columns after
ENGINE = 3  # raised when the same settings would choose other links (the next relink scores all)


@dataclass(frozen=True)
class RelatedConfig:
    """How relatedness is scored (`[related]` in qtkit.toml; `count` is `related_count`).

    `min_score` is the floor below which a slot stays empty; `near_duplicate` the cosine
    at or above which a candidate counts as a rewording of a link already chosen (and is
    skipped); `head_max_df` / `body_max_df` the document counts above which a word of
    that namespace carries no weight."""

    count: int = 5
    title_weight: float = 3.0
    keywords_weight: float = 2.0
    description_weight: float = 1.0
    answer_weight: float = 1.0
    answer_chars: int = 1500
    same_subject_boost: float = 0.25
    min_score: float = 0.12
    near_duplicate: float = 0.55
    head_max_df: int = 1000
    body_max_df: int = 300
    candidates: int = 40

    @classmethod
    def from_config(cls, config: Any) -> RelatedConfig:
        """The `[related]` table of a loaded `Config`; ConfigError on unknown keys or bad values."""
        table = dict(config.extra.get("related", {}) or {})
        known = {f.name for f in fields(cls)}
        for key, value in table.items():
            if key not in known or key == "count":
                raise ConfigError(f"[related] has no setting {key!r} (known: {', '.join(sorted(known - {'count'}))})")
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"[related] {key} must be a number >= 0")
        for key in ("answer_chars", "head_max_df", "body_max_df", "candidates"):
            if key in table:
                table[key] = int(table[key])
        return cls(count=config.related_count, **table)

    def signature(self) -> str:
        """The settings and the engine's version as one string: a state saved under another
        signature is scored again."""
        return json.dumps({**asdict(self), "engine": ENGINE}, sort_keys=True)
