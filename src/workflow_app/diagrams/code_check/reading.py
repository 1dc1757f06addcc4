"""What an expression reads: the case data names, the words and the numbers it is about; and what
tells two values of case data apart exactly, for the check's memories of what it worked out."""
from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Any

_READ_CACHE = 4096
"""Expressions whose reading is kept: the walk asks about the same few conditions and timers thousands
of times."""


def expression_tree(source: str | None) -> ast.AST | None:
    if not source:
        return None
    try:
        return ast.parse(source.strip(), mode="eval")
    except SyntaxError:
        try:
            return ast.parse(source)
        except SyntaxError:
            return None


@lru_cache(maxsize=_READ_CACHE)
def names_read(source: str | None) -> frozenset[str]:
    tree = expression_tree(source)
    if tree is None:
        return frozenset()
    return frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))


@lru_cache(maxsize=_READ_CACHE)
def script_names(source: str | None) -> tuple[str, ...]:
    """Every name a script mentions, read or set (`x += 1` reads x too), in order."""
    tree = expression_tree(source)
    if tree is None:
        return ()
    return tuple(sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}))


@lru_cache(maxsize=_READ_CACHE)
def script_sets(source: str | None) -> Mapping[str, tuple[frozenset[str], str | None]]:
    """The names a script may set (assigns, deletes, or changes in place: `d[k] = v`), each with the names
    its value is worked out from as the script begins, and the name it copies (`a = b`), if that is all
    it does. A statement other than a plain assignment to names (an `if`, a loop, `d[k] = v`) sets what
    it sets from everything it reads. The sandbox allows no method that changes a value."""
    tree = expression_tree(source)
    if not isinstance(tree, ast.Module):
        return MappingProxyType({})
    from_: dict[str, frozenset[str]] = {}
    copies: dict[str, str | None] = {}

    def inputs(names: Iterable[str]) -> frozenset[str]:
        return frozenset().union(*[from_.get(n, frozenset({n})) for n in names])

    for statement in tree.body:
        value = getattr(statement, "value", None)
        targets = statement.targets if isinstance(statement, ast.Assign) else \
            [statement.target] if isinstance(statement, (ast.AugAssign, ast.AnnAssign)) else []
        if targets and value is not None and all(isinstance(t, ast.Name) for t in targets):
            read = _loads(value) | ({targets[0].id} if isinstance(statement, ast.AugAssign) else set())
            copied = value.id if isinstance(value, ast.Name) and value.id not in from_ \
                and not isinstance(statement, ast.AugAssign) else None
            worked_from = inputs(read)
            for target in targets:
                from_[target.id], copies[target.id] = worked_from, copied
            continue
        sets = _stores(statement)
        worked_from = inputs(_loads(statement) | sets)
        for name in sets:
            from_[name], copies[name] = worked_from, None
    return MappingProxyType({n: (from_[n], copies[n]) for n in sorted(from_)})


def _loads(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _stores(tree: ast.AST) -> set[str]:
    """The names a statement assigns, deletes or changes in place."""
    sets: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(getattr(node, "ctx", None), (ast.Store, ast.Del)):
            continue
        target = node
        while isinstance(target, (ast.Subscript, ast.Attribute)):
            target = target.value
        if isinstance(target, ast.Name):
            sets.add(target.id)
    return sets


@lru_cache(maxsize=_READ_CACHE)
def words_in(source: str | None) -> frozenset[str]:
    """Names, attributes and text constants in an expression: what it is about."""
    tree = expression_tree(source)
    words: set[str] = set()
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Name):
            words.add(node.id)
        elif isinstance(node, ast.Attribute):
            words.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            words.add(node.value)
    return frozenset(words)


def compared_constants(sources: Iterable[str], key: str) -> set[float]:
    """Numbers a field is compared with in conditions: the edges worth trying answers at."""
    found: set[float] = set()
    for source in sources:
        tree = expression_tree(source)
        for node in ast.walk(tree) if tree is not None else ():
            if not isinstance(node, ast.Compare):
                continue
            parts = [node.left, *node.comparators]
            if any(isinstance(p, ast.Name) and p.id == key for p in parts):
                found.update(p.value for p in parts if isinstance(p, ast.Constant)
                             and isinstance(p.value, (int, float)) and not isinstance(p.value, bool))
    return found


def feel_names(expression: Any) -> set[str]:
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, tuple) and node:
            if node[0] == "name" and isinstance(node[1], tuple):
                names.add(node[1][0])
                return
            for part in node[1:]:
                walk(part)

    walk(getattr(expression, "tree", None))
    return names


def exact(value: Any) -> Any:
    """A hashable stand-in for a value that only an identical value shares: 1, 1.0 and True, or the
    same instant in two time zones, are told apart. None for a value it cannot vouch for (a set,
    whose order may differ; an unknown type): such a value is never taken as the same as another."""
    kind = type(value)
    if value is None or kind in (bool, int, float, str, bytes, date):
        return kind, value
    if kind is datetime:
        return kind, value, value.tzinfo, value.fold
    if kind in (list, tuple):
        parts = tuple(exact(v) for v in value)
        return None if None in parts else (kind, parts)
    if kind is dict:
        items = tuple((exact(k), exact(v)) for k, v in value.items())
        return None if any(k is None or v is None for k, v in items) else (kind, items)
    return None
