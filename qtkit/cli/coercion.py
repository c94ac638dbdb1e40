"""Start-up cost: typer (0.2x) checks every non-flag parameter's value through a pydantic
`TypeAdapter`, and importing pydantic costs about 0.2 CPU seconds: more than the rest of a
warm `qtkit index`. A value that is absent (None), or a string for a `str` parameter (a
list of strings for `List[str]`), needs no conversion, so those are passed through as
typer's own adapter would return them; any other value (an int, a Path) still goes
through typer, which then imports pydantic.

`install()` wraps `get_runtime_param` of typer's option and argument classes once; it does
nothing on a typer without that method (the behaviour is then typer's own).
"""

from __future__ import annotations

from typing import Any, Callable, List

_installed = False


class _PassThrough:
    """The runtime coercion of one parameter: plain values as they are, others by typer."""

    def __init__(self, param: Any, build: Callable[[Any], Any]) -> None:
        self.param = param
        self.build = build
        self.typer: Any = None
        annotation = param.type_descriptor.annotation
        self.text = annotation is str
        self.texts = annotation in (List[str], list[str])

    def coerce(self, value: Any, param: Any, ctx: Any) -> Any:
        multiple = param.multiple or param.nargs == -1
        if value is None:
            return () if multiple else None
        if self.text and not multiple and isinstance(value, str):
            return value
        if self.texts and multiple and isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return list(value)
        if self.typer is None:
            self.typer = self.build(self.param)
        return self.typer.coerce(value, param=param, ctx=ctx)


def install() -> None:
    """Let typer's parameters skip pydantic for values that need no conversion."""
    global _installed
    if _installed:
        return
    from typer.core import TyperArgument, TyperOption

    for cls in (TyperArgument, TyperOption):
        build = getattr(cls, "get_runtime_param", None)
        if build is None:
            continue

        def runtime(self: Any, build: Callable[[Any], Any] = build) -> Any:
            cached = self.__dict__.get("qtkit_runtime")
            if cached is None:
                cached = self.__dict__["qtkit_runtime"] = _PassThrough(self, build)
            return cached

        cls.get_runtime_param = runtime  # type: ignore[method-assign]
    _installed = True
