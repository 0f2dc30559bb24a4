"""The code on screen: an engine function's source as the pages show it, read from the function itself."""

import ast
import functools
import inspect
import linecache
import textwrap

from core.errors import CaptioningError


class SourceChangedError(CaptioningError):
    """The file holding an engine function has changed since the function was loaded: its text is no longer
    the code that runs."""


@functools.cache
def function_source(function):
    """The source of an engine function, dedented, without its docstring: the code the lab and the pages
    show. Compiled in the function's module it defines the same function.

    Python reads the text from the file, which may have been edited since the function was loaded (the server
    does not reload on edits). So the file as it is now is compiled, and its definition of the function must
    compile to the very code that runs; then its text is read, once. Otherwise SourceChangedError names the
    file: the pages never show code that did not run.
    """
    code = function.__code__
    current = _definition_now(code)
    if current is None or _instructions(current) != _instructions(code):
        raise SourceChangedError(
            f"{code.co_filename} has changed since the app started, so the code it now holds for "
            f"{function.__qualname__} is not the code that ran. Restart the app to show the code that computed "
            "these numbers."
        )
    source = textwrap.dedent(inspect.getsource(current))
    body = ast.parse(source).body[0].body
    if not (isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)):
        return source
    lines = source.splitlines(keepends=True)
    return "".join(lines[: body[0].lineno - 1] + lines[body[0].end_lineno :])


def _definition_now(code):
    """The code object of the definition named like `code` in its file as the file is now, or None."""
    linecache.checkcache(code.co_filename)
    pending = [_compiled(code.co_filename, "".join(linecache.getlines(code.co_filename)))]
    while pending:
        found = pending.pop()
        if found.co_qualname == code.co_qualname:
            return found
        pending.extend(const for const in found.co_consts if inspect.iscode(const))
    return None


@functools.lru_cache(maxsize=8)
def _compiled(filename, text):
    """The module code of `text`, compiled once for all the functions shown from that file as it is."""
    return compile(text, filename, "exec")


def _instructions(code, docstring=True):
    """What a code object does, without where its lines are: its instructions, names and constants, with those
    of the functions and comprehensions inside it. A function's first constant is its docstring (CPython puts
    it there, or None): left out, as the pages leave it out."""
    consts = code.co_consts[1:] if docstring else code.co_consts
    inner = tuple(
        _instructions(const, docstring=False) if inspect.iscode(const) else const for const in consts
    )
    return code.co_code, code.co_names, code.co_varnames, inner
