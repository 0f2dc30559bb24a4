"""Executing the code a page shows, to check that it computes what the engine computes."""


def define_shown(lines, module) -> dict:
    """Execute the shown (line, term) pairs in a copy of `module`'s namespace; returns that namespace, which
    then holds the function as shown."""
    namespace = dict(vars(module))
    exec("\n".join(line for line, _ in lines), namespace)
    return namespace
