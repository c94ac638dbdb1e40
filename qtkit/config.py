"""Where the collection is and how it is shaped: `qtkit.toml`, every key optional.

The root is `--root DIR`, else `$QTKIT_ROOT`, else the nearest folder upward holding a
`qtkit.toml`, else the current folder if it holds question files (at its top or in subject
folders; a few are looked at, the tree is never walked). Anything else is refused: a
collection is pointed at on purpose. Defaults fit the live site's format.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from .errors import ConfigError, NoCollection

CONFIG_NAME = "qtkit.toml"


@dataclass(frozen=True)
class Config:
    """Settings read from `qtkit.toml` (all optional)."""

    root: Path
    #: glob of question files, relative to the root
    files: str = "**/*.md"
    #: globs to leave out (hidden folders such as .git and .qtkit are always left out)
    exclude: tuple[str, ...] = ("README.md",)
    #: the `seo.title` prefix: "<site_name> | <subject>"
    site_name: str = "QuickTakes"
    #: url of a question; {subject_slug} and {slug} (the title's slug) are filled in
    url_pattern: str = "/learn/{subject_slug}/questions/{slug}"
    #: path of a new file relative to the root ({id}, {slug}, {subject_slug});
    #: empty: the site's layout, "{subject_slug}/{slug}.md" (the page's url comes from its path)
    new_file: str = ""
    #: how many related_articleN blocks `relink` writes
    related_count: int = 5
    #: template for `new`, relative to the root; empty: the shipped templates/question.md
    template: str = ""
    #: the subject registry, `key = "Display Title"`; empty: taken from the collection
    subjects: dict = field(default_factory=dict)
    #: extra keys, kept for the commands that read them
    extra: dict = field(default_factory=dict)

    def url_for(self, subject_slug: str, slug: str) -> str:
        """The url of the page `slug` filed under subject key `subject_slug`."""
        return self.url_pattern.format(subject_slug=subject_slug, slug=slug)

    def site_layout(self) -> bool:
        """Whether pages live at `<subject_key>/<file_name>`, as on the site (no `new_file` pattern)."""
        return not self.new_file

    def seo_title(self, subject: str) -> str:
        return f"{self.site_name} | {subject}"


def find_root(root: str | Path | None = None, cwd: str | Path | None = None) -> Path:
    """The collection root: explicit, $QTKIT_ROOT, nearest qtkit.toml upward, or the cwd
    when it holds question files (`looks_like_collection`). Raises `NoCollection` when
    none applies and `ConfigError` when the root is not a folder."""
    if root is not None:
        path = Path(root)
    elif os.environ.get("QTKIT_ROOT"):
        path = Path(os.environ["QTKIT_ROOT"])
    else:
        here = Path(cwd or Path.cwd()).resolve()
        found = next((p for p in (here, *here.parents) if (p / CONFIG_NAME).is_file()), None)
        if found is None:
            if not looks_like_collection(here):
                raise NoCollection(f"no collection here ({here} has no question files and no {CONFIG_NAME} upward):"
                                   " give --root DIR, set QTKIT_ROOT, or run `qtkit init DIR`")
            found = here
        path = found
    if not path.is_dir():
        raise ConfigError(f"collection root {str(path)!r} is not a folder")
    return path.resolve()


#: how many entries of a folder (and of each subject folder) `looks_like_collection` reads
PEEK_ENTRIES = 200
#: how many Markdown files per folder it opens
PEEK_FILES = 5


def looks_like_collection(folder: str | Path) -> bool:
    """Whether `folder` holds question files at its top or in its subfolders (the site's
    `<subject_key>/<slug>.md`): a few `*.md` files are opened and one whose front matter
    starts with `---` and has an `id:` or `title:` line is enough. Reads at most
    `PEEK_ENTRIES` entries per folder and `PEEK_FILES` files each; never walks the tree."""
    top = _peek(Path(folder))
    if top is None:
        return False
    files, dirs = top
    if any(_is_question(p) for p in files[:PEEK_FILES]):
        return True
    for sub in dirs[:PEEK_ENTRIES]:
        inner = _peek(sub)
        if inner and any(_is_question(p) for p in inner[0][:PEEK_FILES]):
            return True
    return False


def _peek(folder: Path) -> tuple[list[Path], list[Path]] | None:
    files: list[Path] = []
    dirs: list[Path] = []
    try:
        with os.scandir(folder) as entries:
            for n, entry in enumerate(entries):
                if n >= PEEK_ENTRIES:
                    break
                if entry.name.startswith("."):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        dirs.append(Path(entry.path))
                    elif entry.name.endswith(".md") and entry.is_file():
                        files.append(Path(entry.path))
                except OSError:
                    continue
    except OSError:
        return None
    return sorted(files), sorted(dirs)


def _is_question(path: Path) -> bool:
    """The file starts with front matter (`---`) naming an `id` or a `title` (first 8 KiB)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8192)
    except OSError:
        return False
    text = head.removeprefix(b"\xef\xbb\xbf").decode("utf-8", "replace").replace("\r\n", "\n")
    if not text.startswith("---\n"):
        return False
    for line in text.split("\n")[1:]:
        if line.rstrip() in ("---", "..."):
            return False
        if line.startswith(("id:", "title:")):
            return True
    return False


def load_config(root: str | Path | None = None) -> Config:
    """Read `qtkit.toml` at the collection root (if any) into a `Config`."""
    base = find_root(root)
    path = base / CONFIG_NAME
    data: dict = {}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"invalid TOML: {exc}", path) from None
    known = {f.name: f for f in fields(Config) if f.name not in ("root", "extra")}
    values: dict = {}
    extra = {}
    for key, value in data.items():
        if key not in known:
            extra[key] = value
            continue
        default = getattr(Config, key, None)
        if key == "subjects":
            if not isinstance(value, dict):
                raise ConfigError("[subjects] must be a table of key = \"Title\"", path)
        elif key == "exclude":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError("'exclude' must be a list of strings", path)
            value = tuple(value)
        elif not isinstance(value, type(default)) or isinstance(value, bool) != isinstance(default, bool):
            raise ConfigError(f"{key!r} must be a {type(default).__name__}", path)
        values[key] = value
    if values.get("related_count", 5) < 0:
        raise ConfigError("'related_count' must be >= 0", path)
    return Config(root=base, extra=extra, **values)
