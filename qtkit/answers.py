"""The answer's one-line text as Markdown: the one decoder export and serve share.

The collection stores each answer on one line, with the two characters `\\n` for a line
break. Inside math (`$..$`, `$$..$$`, `\\(..\\)`, `\\[..\\]`) a `\\n` can instead start a
LaTeX command (`\\nabla`, `\\neq`, `\\nu`), which must stay. Which `$` is math follows
the rules Markdown math renderers use (pandoc, markdown-it's dollarmath): `$` opens when a
non-space follows and no digit precedes it, and closes after a non-space and before no
digit, so a currency amount (`$5`, `$10.50`) opens nothing; `$ x $`, padded with spaces
(common in the collection), is math too. Math never spans a paragraph break.
"""

from __future__ import annotations

import re

#: LaTeX commands that begin with "n": inside math, "\\n" followed by one of these is the command.
N_COMMANDS = frozenset(
    "nabla natural ne nearrow neg negthickspace negthinspace neq newline nexists ngeq ngtr ni nleftarrow "
    "nleq nless nmid nolimits nonumber not notin nparallel nprec npreceq nrightarrow nshortmid nsim "
    "nsubseteq nsucc nsupseteq ntriangleleft ntriangleright nu nvdash nwarrow".split()
)
_MATH = re.compile(
    r"\$\$(?:[^$\\]|\\.)+?\$\$|\\\((?:.+?)\\\)|\\\[(?:.+?)\\\]"
    r"|(?<![\\\d$])\$(?=[^\s$])(?:[^$\\]|\\.)+?(?<=[^\s\\])\$(?!\d)"
    r"|(?<![\\\d$])\$ +(?P<padded>(?:[^\s$\\]|\\.)(?:[^$\\]|\\.)*?(?<=[^\s\\])) +\$(?!\d)", re.S)
_BREAK = re.compile(r"\\\\|\\n([A-Za-z]*)")


def decode_answer(answer: str, *, tight_math: bool = False) -> str:
    """The one-line answer as Markdown: each literal `\\n` becomes a newline, except inside
    math where it starts a LaTeX command; `\\\\` (a LaTeX line break) stays as it is.
    `tight_math=True` also writes padded math `$ x $` as `$x$` (what a Markdown math
    renderer needs; the export keeps the text as it is). Rules: the module docstring."""
    out: list[str] = []
    pos = 0
    while pos < len(answer):
        m = _MATH.search(answer, pos)
        if m is not None and _BREAK.sub(_keep_commands, m.group(0)).count("\n\n"):
            out.append(_BREAK.sub(_newline, answer[pos : m.start() + 1]))  # not math: it spans a paragraph break
            pos = m.start() + 1
            continue
        end = m.start() if m is not None else len(answer)
        out.append(_BREAK.sub(_newline, answer[pos:end]))
        if m is None:
            break
        span = f"${m.group('padded')}$" if tight_math and m.group("padded") is not None else m.group(0)
        out.append(_BREAK.sub(_keep_commands, span))
        pos = m.end()
    return "".join(out)


def _newline(m: re.Match[str]) -> str:
    return m.group(0) if m.group(0) == "\\\\" else "\n" + m.group(1)


def _keep_commands(m: re.Match[str]) -> str:
    token = m.group(0)
    if token == "\\\\" or "n" + m.group(1) in N_COMMANDS:
        return token
    return "\n" + m.group(1)
