"""Where the theme's templates come from: the site owner's ``theme/*.j2`` overrides in
front of the packaged templates, looked up by name."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import jinja2

# Where overrides live in the source bucket; also the "file name" errors show for one.
OVERRIDE_PREFIX = "theme/"


def layered_loader(templates_dir: Path, overrides: Mapping[str, str]) -> jinja2.BaseLoader:
    """Overrides first: Jinja2 asks the loaders in turn, so an override wins by name,
    also where a packaged template includes, imports or extends that name."""
    packaged = jinja2.FileSystemLoader(str(templates_dir))
    if not overrides:
        return packaged
    return jinja2.ChoiceLoader([_OverrideLoader(overrides), packaged])


class _OverrideLoader(jinja2.BaseLoader):
    """Overrides by name; their "file name" is the source key, so errors name it."""

    def __init__(self, templates: Mapping[str, str]) -> None:
        self._templates = dict(templates)

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        try:
            return self._templates[template], OVERRIDE_PREFIX + template, lambda: True
        except KeyError:
            raise jinja2.TemplateNotFound(template) from None

    def list_templates(self) -> list[str]:
        return sorted(self._templates)
