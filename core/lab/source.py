"""The code on screen: an engine function's source as the pages show it, read from the function itself."""

import ast
import inspect
import textwrap


def function_source(function):
    """The source of an engine function, dedented, without its docstring: the code the lab and the pages
    show. Compiled in the function's module it defines the same function."""
    source = textwrap.dedent(inspect.getsource(function))
    body = ast.parse(source).body[0].body
    if not (isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)):
        return source
    lines = source.splitlines(keepends=True)
    return "".join(lines[: body[0].lineno - 1] + lines[body[0].end_lineno :])
