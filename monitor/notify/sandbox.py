"""The Jinja2 side of rendering: the sandboxed environment per format, the shipped templates
(``monitor/notify/templates``), a channel's template overrides, and the check of those overrides.

Jinja2 is imported on first use, not with this module: a command that renders no message (``monitor poll`` with
nothing to deliver, ``monitor status``) does not pay for it. Pure: no I/O but reading the package's templates.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from monitor.notify.text import Format, cut

if TYPE_CHECKING:
    from jinja2 import Template
    from jinja2.sandbox import ImmutableSandboxedEnvironment

OPERAND_MAX = 100_000  # the characters or items a template's + or * may build; the bits of a number * or ** may give


@lru_cache(maxsize=1)
def _sandbox_class() -> type[ImmutableSandboxedEnvironment]:
    from jinja2.exceptions import SecurityError
    from jinja2.runtime import Context
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class _Sandbox(ImmutableSandboxedEnvironment):
        """Jinja2's immutable sandbox (no attribute of Python internals, no mutating a list or dict), whose ``+``,
        ``*`` and ``**`` also refuse to build a huge string, list or number (``{{ 'x' * 10**9 }}``,
        ``{{ 9**9**9 }}``), which would exhaust memory or never finish. A refusal is a
        :class:`jinja2.exceptions.SecurityError`."""

        intercepted_binops = frozenset({"+", "*", "**"})

        def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
            if _too_big(operator, left, right):
                raise SecurityError(f"the {operator} in this template would build a value too large for a message")
            return super().call_binop(context, operator, left, right)

    return _Sandbox


def _too_big(operator: str, left: Any, right: Any) -> bool:
    sized = (str, bytes, list, tuple)
    if operator == "+":
        return isinstance(left, sized) and isinstance(right, sized) and len(left) + len(right) > OPERAND_MAX
    if operator == "*":
        if isinstance(left, int) and isinstance(right, sized):
            left, right = right, left
        if isinstance(left, sized) and isinstance(right, int):
            return len(left) * right > OPERAND_MAX
        if isinstance(left, int) and isinstance(right, int):
            return left.bit_length() + right.bit_length() > OPERAND_MAX
        return False
    if operator == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1:
        return right > 0 and left.bit_length() * right > OPERAND_MAX
    return False


@lru_cache(maxsize=4)
def _environment(fmt: Format) -> ImmutableSandboxedEnvironment:
    from jinja2 import PackageLoader, StrictUndefined

    # HTML autoescapes; Markdown and text get values escaped in Python (Jinja2 only knows HTML escaping).
    # Sandboxed because channel templates come from the config file, and StrictUndefined so a typo in one is
    # reported (and the shipped template used) rather than rendering an empty message.
    return _sandbox_class()(
        loader=PackageLoader("monitor.notify", "templates"),
        autoescape=fmt == "html",
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _template(fmt: Format, name: str, override: str | None) -> Template:
    if override:
        return _compile_override(fmt, override)
    return _environment(fmt).get_template(name)


@lru_cache(maxsize=64)
def _compile_override(fmt: Format, source: str) -> Template:
    return _environment(fmt).from_string(source)


def render_template(fmt: Format, name: str, context: Mapping[str, Any], override: str | None = None) -> str:
    """Render the shipped template ``name``, or the channel's ``override`` of it; a broken override falls back to
    the shipped template (never lose a message): whatever it raises (a template error, 1/0, a recursive macro, a
    value the sandbox refuses)."""
    if override is None:
        return _template(fmt, name, None).render(context).strip()
    try:
        return _template(fmt, name, override).render(context).strip()
    except Exception:
        return _template(fmt, name, None).render(context).strip()


def override_problems(templates: Mapping[str, str], fmt: Format, sample: Callable[[Format], Mapping[str, Any]],
                      ) -> list[str]:
    """Problems with a channel's template overrides, each rendered sandboxed against ``sample(fmt)`` (unknown
    names, syntax errors, unknown variables, what the sandbox refuses, any other failure), as
    ``templates.body: what is wrong; how to fix it``. Never raises."""
    from jinja2 import TemplateError, TemplateSyntaxError
    from jinja2.exceptions import SecurityError

    problems = [f"templates.{name}: unknown template; use 'title' or 'body'" for name in templates
                if name not in {"title", "body"}]
    for name in ("title", "body"):
        if name in templates:
            try:
                _compile_override(fmt, templates[name]).render(sample(fmt))
            except TemplateSyntaxError as exc:
                problems.append(f"templates.{name}: {_one_line(exc)} (line {exc.lineno}); fix the Jinja syntax")
            except SecurityError as exc:
                problems.append(f"templates.{name}: {_one_line(exc)}; templates are sandboxed: use only the "
                                "documented values and filters")
            except TemplateError as exc:
                problems.append(f"templates.{name}: {_one_line(exc)}; use only the values the shipped templates use "
                                "(monitor/notify/templates)")
            except Exception as exc:  # a template may fail any way (1/0, a recursive macro)
                problems.append(f"templates.{name}: rendering fails ({type(exc).__name__}: {_one_line(exc)}); "
                                "fix the template")
    return problems


def _one_line(exc: BaseException) -> str:
    return cut(" ".join(str(exc).split()), 200).rstrip(".") or type(exc).__name__
