"""Restricted evaluation of the Python inside uploaded BPMN diagrams.

Gateway conditions, timer dates (``bpmn:timeDate``) and script tasks are
written by whoever uploads a diagram, so they are never handed to Python's
own ``eval``/``exec``.  Every piece of source is first checked against the
allow-list below (``check_expression`` / ``check_script``, run when a
diagram is deployed), then compiled with RestrictedPython, whose guards
repeat the checks that depend on run-time values.  Source that fails the
check never runs.

What a diagram may write
------------------------
Expressions (conditions, timer dates):

* literals (numbers, strings, ``True``/``False``/``None``, lists, tuples,
  dicts, sets) and f-strings;
* names: the case data (``amount``, ``received_at`` ...), the calendar
  functions (``working_days_after(received_at, 5)`` ...) and these built-in
  functions: ``abs all any bool dict float int isinstance len list max min
  round set sorted str sum tuple``;
* arithmetic ``+ - * / // %``, ``>>``, ``& | ^``, ``~``, comparisons
  (including ``in``, ``not in``, ``is``), ``and``/``or``/``not``,
  ``x if c else y``, items and slices ``data["k"]``, ``items[1:3]``;
* calls of named functions and of these methods (attributes without
  brackets in *italics* are plain values):

  - text: ``lower upper strip lstrip rstrip startswith endswith split
    title capitalize casefold isdigit isalpha isalnum isspace isupper
    islower count find``
  - dict: ``get keys values items``;  list and tuple: ``count index``
  - date: *year month day*, ``weekday isoweekday isoformat``
  - datetime: as date, plus *hour minute second microsecond*, ``date time``
  - time: *hour minute second microsecond*, ``isoformat``
  - timedelta (the difference of two dates): *days seconds microseconds*,
    ``total_seconds``

Scripts may also use: assignments ``x = ...`` (one name at a time, or
several targets ``a = b = ...``), item assignments ``x["k"] = v`` on dicts
and lists, augmented assignments to names ``n += 1`` (not to items: write
``x["k"] = x["k"] + 1``), ``if``/``elif``/``else``, ``pass`` and expression
statements.  Assigned names become case data, except functions and methods
(``f = data.get`` is not kept); a script that fails leaves the case data
unchanged.  Case data whose name starts with ``_`` is invisible.

Never allowed
-------------
* any name, attribute or keyword argument starting with ``_``;
* ``open eval exec compile getattr setattr delattr hasattr globals locals
  vars dir type breakpoint input print help pow range iter next format``
  and the other names in ``FORBIDDEN_NAMES``;
* any attribute or method not listed above (so ``str.format`` and
  ``format_map`` are refused), and assigning to attributes;
* comprehensions, ``lambda``, ``:=``, ``*``/``**`` unpacking, calling
  anything but a named function or an allowed method;
* loops, ``def``, ``class``, ``import``, ``global``, ``nonlocal``,
  ``with``, ``try``, ``raise``, ``del``, ``return``, ``assert``, ``yield``,
  ``await``, ``match`` and tuple unpacking ``a, b = ...``;
* assigning to a built-in or a calendar function's name (the latter is
  found when the script runs, as is case data named like a function);
* storing a value inside itself (``x["me"] = x``).

Bounded work
------------
Nothing may take unbounded time or memory, so:

* ``**`` (power) and ``<<`` (left shift) are refused outright;
* source is at most 10,000 characters, 5,000 syntax nodes and 100 levels
  of nesting;
* every ``*``, ``+``, ``%`` and in-place variant goes through a guard:
  repeating or joining text, lists or tuples may not build a value of more
  than 100,000 items and characters (nested items counted wherever they
  appear); multiplying whole numbers may not go past 100,000 bits; ``%`` is
  arithmetic only (no ``"%s" % x`` formatting);
* a list, tuple, set, dict or f-string built from non-literal parts, the
  text of ``str(a_list)``, and any value stored with ``x["k"] = v`` are
  held to the same 100,000 limit;
* f-string format specs must be literal, with widths and precisions of at
  most three digits (``f"{amount:.2f}"``, ``f"{received_at:%d %B %Y}"``);
* ``round`` takes at most 100 digits; ``sum`` only adds numbers;
* one evaluation or script run may handle at most 1,000,000 items in
  ``*`` repetitions, size checks and ``all any dict list max min set sorted
  sum tuple``.

Where both operands are literals (``'a' * 10000000``) these limits are
applied at deploy time; otherwise the guard refuses at run time with
``UnsafeExpression``.  The calendar functions are trusted code: they must
bound their own arguments (``working_days_after(when, 1000000)`` is the
calendar's problem, not this module's).
"""

from __future__ import annotations

import ast
import builtins
import contextvars
import copy
import functools
import importlib
import operator
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any, NamedTuple

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.transformer import RestrictingNodeTransformer
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import BasePythonScriptEngineEnvironment, PythonScriptEngine

__all__ = [
    "ALLOWED_ATTRIBUTES",
    "ALLOWED_BUILTINS",
    "FORBIDDEN_NAMES",
    "MAX_DEPTH",
    "MAX_INT_BITS",
    "MAX_NODES",
    "MAX_SIZE",
    "MAX_SOURCE_LENGTH",
    "MAX_WORK",
    "RestrictedEnvironment",
    "UnsafeExpression",
    "check_expression",
    "check_script",
    "restricted_script_engine",
]

MAX_SOURCE_LENGTH = 10_000
MAX_NODES = 5_000
MAX_DEPTH = 100
MAX_SIZE = 100_000
MAX_INT_BITS = 100_000
MAX_WORK = 1_000_000
MAX_ROUND_DIGITS = 100
_FILENAME = "<string>"  # SpiffWorkflow finds script line numbers by this name
_CACHE_SIZE = 2048


class UnsafeExpression(ValueError):
    """Source a diagram may not run; ``reason`` says why in plain English."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        self.reason = reason
        self.line = line
        super().__init__(reason if line is None else f"line {line}: {reason}")


# --- what is allowed ---------------------------------------------------------

ALLOWED_ATTRIBUTES: Mapping[type, frozenset[str]] = MappingProxyType({
    str: frozenset({
        "lower", "upper", "strip", "lstrip", "rstrip", "startswith", "endswith",
        "split", "title", "capitalize", "casefold", "isdigit", "isalpha",
        "isalnum", "isspace", "isupper", "islower", "count", "find",
    }),
    dict: frozenset({"get", "keys", "values", "items"}),
    list: frozenset({"count", "index"}),
    tuple: frozenset({"count", "index"}),
    # datetime before date: the first match along a value's MRO wins.
    datetime: frozenset({
        "year", "month", "day", "weekday", "isoweekday", "isoformat",
        "hour", "minute", "second", "microsecond", "date", "time",
    }),
    date: frozenset({"year", "month", "day", "weekday", "isoweekday", "isoformat"}),
    time: frozenset({"hour", "minute", "second", "microsecond", "isoformat"}),
    timedelta: frozenset({"days", "seconds", "microseconds", "total_seconds"}),
})
_ATTRIBUTE_NAMES = frozenset().union(*ALLOWED_ATTRIBUTES.values())

FORBIDDEN_NAMES = frozenset({
    "open", "eval", "exec", "compile", "getattr", "setattr", "delattr",
    "hasattr", "globals", "locals", "vars", "dir", "type", "breakpoint",
    "input", "print", "printed", "help", "memoryview", "object", "super",
    "classmethod", "staticmethod", "property", "exit", "quit", "builtins",
    "pow", "range", "iter", "next", "aiter", "anext", "format", "issubclass",
    "callable", "license", "credits", "copyright", "bytearray",
})


_ALLOWED_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod,
                   ast.RShift, ast.BitOr, ast.BitXor, ast.BitAnd)
_EXPRESSION_NODES = (
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.BoolOp, ast.And, ast.Or,
    ast.BinOp, *_ALLOWED_BINOPS, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.Invert, ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE,
    ast.Is, ast.IsNot, ast.In, ast.NotIn, ast.IfExp, ast.Call, ast.keyword,
    ast.Attribute, ast.Subscript, ast.Slice, ast.List, ast.Tuple, ast.Set,
    ast.Dict, ast.JoinedStr, ast.FormattedValue,
)
_SCRIPT_NODES = (
    *_EXPRESSION_NODES, ast.Module, ast.Store, ast.Assign, ast.AugAssign, ast.If,
    ast.Pass, ast.Expr,
)

_REFUSED: dict[type, str] = {
    ast.Pow: "'**': powers are not allowed (they can take unbounded time)",
    ast.LShift: "'<<': left shifts are not allowed (they can take unbounded memory)",
    ast.MatMult: "'@': matrix multiplication is not allowed",
    ast.ListComp: "a list comprehension: comprehensions are not allowed",
    ast.SetComp: "a set comprehension: comprehensions are not allowed",
    ast.DictComp: "a dict comprehension: comprehensions are not allowed",
    ast.GeneratorExp: "a generator expression: comprehensions are not allowed",
    ast.Lambda: "'lambda': defining functions is not allowed",
    ast.NamedExpr: "':=': assignment inside an expression is not allowed",
    ast.Starred: "'*' unpacking: not allowed",
    ast.Await: "'await': not allowed",
    ast.Yield: "'yield': not allowed",
    ast.YieldFrom: "'yield from': not allowed",
    ast.For: "a 'for' loop: loops are not allowed",
    ast.AsyncFor: "an 'async for' loop: loops are not allowed",
    ast.While: "a 'while' loop: loops are not allowed",
    ast.FunctionDef: "'def': defining functions is not allowed",
    ast.AsyncFunctionDef: "'async def': defining functions is not allowed",
    ast.ClassDef: "'class': defining classes is not allowed",
    ast.Import: "'import': imports are not allowed",
    ast.ImportFrom: "'from ... import': imports are not allowed",
    ast.Global: "'global': not allowed",
    ast.Nonlocal: "'nonlocal': not allowed",
    ast.With: "'with': not allowed",
    ast.AsyncWith: "'async with': not allowed",
    ast.Try: "'try': not allowed",
    ast.TryStar: "'try': not allowed",
    ast.Raise: "'raise': not allowed",
    ast.Delete: "'del': not allowed",
    ast.Return: "'return': not allowed",
    ast.Assert: "'assert': not allowed",
    ast.Break: "'break': not allowed",
    ast.Continue: "'continue': not allowed",
    ast.Match: "'match': not allowed",
    ast.AnnAssign: "an annotated assignment: write 'x = value'",
}

_LONG_NUMBER = re.compile(r"\d{4,}")


# --- run-time guards -----------------------------------------------------------

_TEXT = (str, bytes)
_SEQUENCES = (str, bytes, list, tuple)
_CONTAINERS = (list, tuple, set, frozenset, dict,
               type({}.keys()), type({}.values()), type({}.items()))


# Work left for the size checks and built-in functions of the current check,
# evaluation or script run; None outside one.
_work_left: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "expression_work_left", default=None)


def _charge(items: int) -> None:
    """Count ``items`` of work against the current run's budget."""
    work_left = _work_left.get()
    if work_left is not None:
        work_left[0] -= items
        if work_left[0] < 0:
            raise UnsafeExpression(
                f"does too much work: more than {MAX_WORK:,} items handled by size checks "
                "and built-in functions")


def _size(value: Any, limit: int = MAX_SIZE, inside: Any = None) -> int:
    """Items and characters in ``value`` as written out; raises past ``limit``.

    A value reachable twice counts twice: that is what printing, comparing
    or storing it costs.  Each container is refused before its items are
    walked if it alone passes the limit, so the walk stays within the limit
    and ends on cycles.  The walk is charged to the run's work budget.
    Refuses a value holding the container ``inside``, which would make a cycle.
    """
    if isinstance(value, _TEXT):
        total = len(value)
    elif not isinstance(value, _CONTAINERS):
        return 1
    elif value is inside:
        raise UnsafeExpression("would make a value contain itself")
    else:
        total = 0
        pending = [value]
        while pending and total <= limit:
            items = pending.pop()
            if isinstance(items, dict):
                pending.append(items.values())
                items = items.keys()
            total += len(items)  # every item counts at least once
            if total > limit:
                break
            for item in items:
                if isinstance(item, _TEXT):
                    if len(item) > 1:
                        total += len(item) - 1
                elif isinstance(item, _CONTAINERS):
                    if item is inside:
                        raise UnsafeExpression("would make a value contain itself")
                    pending.append(item)
    _charge(min(total, limit))
    if total > limit:
        raise UnsafeExpression(f"builds a value of more than {limit:,} items and characters")
    return total


def _sized(value: Any) -> Any:
    _size(value)
    return value


def _check_repeat(sequence: Any, times: int) -> None:
    if times > 0:
        size = _size(sequence) * times
        if size > MAX_SIZE:
            raise UnsafeExpression(
                f"'*' would build a {type(sequence).__name__} of more than {MAX_SIZE:,} "
                "items and characters")
        _charge(size)


_OPERATORS: Mapping[str, Callable[[Any, Any], Any]] = MappingProxyType({
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
    "//": operator.floordiv, "%": operator.mod, ">>": operator.rshift,
    "&": operator.and_, "|": operator.or_, "^": operator.xor,
})
_OPERATOR_SYMBOLS: Mapping[type, str] = MappingProxyType({
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
    ast.Mod: "%", ast.RShift: ">>", ast.BitOr: "|", ast.BitXor: "^",
    ast.BitAnd: "&",
})


def _guard_operands(symbol: str, left: Any, right: Any) -> None:
    """Refuse an operation whose result would be too big to build."""
    if symbol == "*":
        if isinstance(left, int) and isinstance(right, int):
            if abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
                raise UnsafeExpression(
                    f"'*' would build a number of more than {MAX_INT_BITS:,} bits")
        elif isinstance(left, _SEQUENCES) and isinstance(right, int):
            _check_repeat(left, right)
        elif isinstance(right, _SEQUENCES) and isinstance(left, int):
            _check_repeat(right, left)
    elif symbol == "+":
        if (isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES)
                and _size(left) + _size(right) > MAX_SIZE):
            raise UnsafeExpression(
                f"'+' would build a value of more than {MAX_SIZE:,} items and characters")
    elif symbol == "%":
        if isinstance(left, _TEXT):
            raise UnsafeExpression("'%' formatting of text is not allowed: use an f-string")
    elif symbol not in _OPERATORS:
        raise UnsafeExpression(f"the operator '{symbol}' is not allowed")


def _binop(symbol: str, left: Any, right: Any) -> Any:
    _guard_operands(symbol, left, right)
    return _OPERATORS[symbol](left, right)


def _inplacevar(symbol: str, left: Any, right: Any) -> Any:
    # RestrictedPython passes "+=", "*=" ...; in-place forms are never used,
    # so a list bound to two names is not changed through the other one.
    return _binop(symbol[:-1], left, right)


def _allowed_attributes(value: Any) -> frozenset[str]:
    for klass in type(value).__mro__:
        allowed = ALLOWED_ATTRIBUTES.get(klass)
        if allowed is not None:
            return allowed
    return frozenset()


def _getattr(value: Any, name: str) -> Any:
    if not isinstance(name, str) or name.startswith("_"):
        raise UnsafeExpression(f"uses '{name}': attributes starting with '_' are not allowed")
    if name not in _allowed_attributes(value):
        raise UnsafeExpression(f"'.{name}' is not allowed on a {type(value).__name__} value")
    return getattr(value, name)


def _getitem(value: Any, key: Any) -> Any:
    if not isinstance(value, (dict, list, tuple, str)):
        raise UnsafeExpression(f"cannot take items of a {type(value).__name__} value")
    return value[key]


class _ItemWriter:
    """What ``x[k] = v`` writes through: only dicts and lists, only bounded values."""

    __slots__ = ("_target",)

    def __init__(self, target: dict | list) -> None:
        self._target = target

    def __setitem__(self, key: Any, value: Any) -> None:
        _size(value, inside=self._target)
        self._target[key] = value


def _write(value: Any) -> _ItemWriter:
    if not isinstance(value, (dict, list)):
        raise UnsafeExpression(f"cannot assign items of a {type(value).__name__} value")
    return _ItemWriter(value)


def _refuse(what: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise UnsafeExpression(f"{what} is not allowed")
    return refuse


# --- built-in functions -------------------------------------------------------

def _round(number: Any, ndigits: int | None = None) -> Any:
    if ndigits is None:
        return round(number)
    if not isinstance(ndigits, int) or abs(ndigits) > MAX_ROUND_DIGITS:
        raise UnsafeExpression(f"round() takes at most {MAX_ROUND_DIGITS} digits")
    return round(number, ndigits)


def _sum(values: Any, /, start: Any = 0) -> Any:
    if not isinstance(start, (int, float)):
        raise UnsafeExpression("sum() only adds numbers")
    return sum(values, start)


def _str(*args: Any, **kwargs: Any) -> str:
    # Writing out a container can cost far more than the container holds.
    text = str(*args, **kwargs)
    if args and isinstance(args[0], _CONTAINERS):
        _sized(text)
    return text


def _charged(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function``, charging the length of its first argument to the work budget."""
    @functools.wraps(function)
    def charged(*args: Any, **kwargs: Any) -> Any:
        if args and isinstance(args[0], _CONTAINERS + _TEXT):
            _charge(len(args[0]))
        return function(*args, **kwargs)
    return charged


def _import(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (),
            level: int = 0) -> Any:
    # Not reachable by name from a diagram; formatting a datetime
    # (f"{received_at:%d %B %Y}") imports ``time`` through it.
    if name == "time" and level == 0:
        return importlib.import_module(name)
    raise UnsafeExpression("imports are not allowed")


_TYPE_BUILTINS = {"dict": _charged(dict), "list": _charged(list), "set": _charged(set),
                  "str": _str, "tuple": _charged(tuple)}
_WRAPPED_TYPES = {id(wrapper): getattr(builtins, name) for name, wrapper in _TYPE_BUILTINS.items()}


def _isinstance(value: Any, kinds: Any) -> bool:
    # str, list ... are wrapped for the work budget; isinstance wants the types.
    def unwrap(kind: Any) -> Any:
        return _WRAPPED_TYPES.get(id(kind), kind)
    kinds = tuple(map(unwrap, kinds)) if isinstance(kinds, tuple) else unwrap(kinds)
    return isinstance(value, kinds)


_BUILTINS: Mapping[str, Any] = MappingProxyType({
    **_TYPE_BUILTINS,
    "abs": abs, "all": _charged(all), "any": _charged(any), "bool": bool,
    "float": float, "int": int, "isinstance": _isinstance, "len": len,
    "max": _charged(max), "min": _charged(min), "round": _round,
    "sorted": _charged(sorted), "sum": _charged(_sum),
})
ALLOWED_BUILTINS = frozenset(_BUILTINS)


_GUARDS: Mapping[str, Any] = MappingProxyType({
    "__builtins__": {**_BUILTINS, "__import__": _import},
    "_getattr_": _getattr,
    "_getitem_": _getitem,
    "_write_": _write,
    "_inplacevar_": _inplacevar,
    "_binop_": _binop,
    "_sized_": _sized,
    # Loops, comprehensions, unpacking, *args and print are refused before
    # compiling; these make sure they could do nothing if that ever slipped.
    "_getiter_": _refuse("iteration"),
    "_iter_unpack_sequence_": _refuse("unpacking"),
    "_unpack_sequence_": _refuse("unpacking"),
    "_apply_": _refuse("'*' unpacking in a call"),
    "_print_": _refuse("print"),
})


# --- the static check ---------------------------------------------------------

_NOT_STATIC = object()


class _Checker(ast.NodeVisitor):
    """Walks a parsed tree and raises ``UnsafeExpression`` at the first refusal."""

    def __init__(self, allowed: tuple[type, ...]) -> None:
        self._allowed = allowed
        self._folded: dict[int, Any] = {}
        self._line: int | None = None

    def visit(self, node: ast.AST) -> None:
        # Operators and contexts carry no position: report their parent's line.
        self._line = getattr(node, "lineno", self._line)
        super().visit(node)

    def refuse(self, node: ast.AST, reason: str) -> None:
        raise UnsafeExpression(reason, getattr(node, "lineno", self._line))

    def generic_visit(self, node: ast.AST) -> None:
        if not isinstance(node, self._allowed):
            reason = _REFUSED.get(type(node))
            if reason is None:
                reason = f"{type(node).__name__}: this construct is not allowed here"
            self.refuse(node, f"uses {reason}")
        super().generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        self._check_name(node, node.id)
        if isinstance(node.ctx, ast.Store) and node.id in ALLOWED_BUILTINS:
            self.refuse(node, f"assigns to '{node.id}', which is a built-in function")
        self.generic_visit(node)

    def _check_name(self, node: ast.AST, name: str) -> None:
        if name.startswith("_"):
            self.refuse(node, f"uses '{name}': names starting with '_' are not allowed")
        if name in FORBIDDEN_NAMES:
            self.refuse(node, f"uses '{name}': it is not available in diagram expressions")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.visit(node.value)
        if node.attr.startswith("_"):
            self.refuse(node, f"uses '{node.attr}': attributes starting with '_' are not allowed")
        if not isinstance(node.ctx, ast.Load):
            self.refuse(node, f"assigns to '.{node.attr}': only names and items can be assigned")
        if node.attr in ("format", "format_map"):
            self.refuse(node, f"uses '.{node.attr}': str.format is not allowed, use an f-string")
        if node.attr not in _ATTRIBUTE_NAMES:
            self.refuse(node, f"uses '.{node.attr}': only the listed methods and attributes of "
                              "text, dicts, lists, tuples, dates and times are allowed")

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        if not isinstance(node.func, (ast.Name, ast.Attribute)):
            self.refuse(node, "calls the result of an expression: only named functions "
                              "and allowed methods can be called")
        for keyword in node.keywords:
            if keyword.arg is None:
                self.refuse(node, "uses '**' unpacking in a call: not allowed")
            if keyword.arg.startswith("_"):
                self.refuse(node, f"uses '{keyword.arg}': names starting with '_' are not allowed")

    def visit_Dict(self, node: ast.Dict) -> None:
        if any(key is None for key in node.keys):
            self.refuse(node, "uses '**' unpacking in a dict: not allowed")
        self.generic_visit(node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> None:
        spec = node.format_spec
        if spec is not None:
            pieces = spec.values if isinstance(spec, ast.JoinedStr) else [spec]
            if not all(isinstance(p, ast.Constant) and isinstance(p.value, str) for p in pieces):
                self.refuse(node, "uses a computed format spec in an f-string: "
                                  "format specs must be written out")
            if any(_LONG_NUMBER.search(p.value) for p in pieces):
                self.refuse(node, "uses a width or precision of more than three digits "
                                  "in an f-string")
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            if not isinstance(target, (ast.Name, ast.Subscript, ast.Attribute)):
                self.refuse(node, "uses unpacking assignment ('a, b = ...'): "
                                  "assign one name at a time")
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.generic_visit(node)
        if not isinstance(node.target, ast.Name):
            self.refuse(node, "uses augmented assignment to an item or attribute: "
                              "write x['k'] = x['k'] + v")

    def visit_BinOp(self, node: ast.BinOp) -> None:
        self.generic_visit(node)
        left = node.left
        if isinstance(node.op, ast.Mod) and (
                isinstance(left, ast.JoinedStr)
                or (isinstance(left, ast.Constant) and isinstance(left.value, (str, bytes)))):
            self.refuse(node, "uses '%' formatting of text: not allowed, use an f-string")
        self._fold(node)

    def _fold(self, node: ast.AST) -> Any:
        """The value of a literal-only subtree, applying the run-time guards."""
        key = id(node)
        if key in self._folded:
            return self._folded[key]
        value: Any = _NOT_STATIC
        try:
            if isinstance(node, ast.Constant):
                value = node.value
            elif isinstance(node, (ast.List, ast.Tuple)):
                items = [self._fold(element) for element in node.elts]
                if _NOT_STATIC not in items:
                    value = items if isinstance(node, ast.List) else tuple(items)
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
                operand = self._fold(node.operand)
                if operand is not _NOT_STATIC:
                    value = -operand if isinstance(node.op, ast.USub) else +operand
            elif isinstance(node, ast.BinOp) and type(node.op) in _OPERATOR_SYMBOLS:
                left, right = self._fold(node.left), self._fold(node.right)
                if left is not _NOT_STATIC and right is not _NOT_STATIC:
                    value = _binop(_OPERATOR_SYMBOLS[type(node.op)], left, right)
        except UnsafeExpression as refusal:
            self.refuse(node, refusal.reason)
        except Exception:  # e.g. 1 / 0 or 'a' + 1: fails the normal way at run time
            value = _NOT_STATIC
        self._folded[key] = value
        return value


def _depth(tree: ast.AST) -> int:
    deepest = 0
    pending = [(tree, 1)]
    while pending:
        node, depth = pending.pop()
        deepest = max(deepest, depth)
        pending.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _parse(source: str, mode: str) -> ast.AST:
    if not isinstance(source, str):
        raise UnsafeExpression(f"must be text, not {type(source).__name__}")
    if len(source) > MAX_SOURCE_LENGTH:
        raise UnsafeExpression(
            f"is too long: {len(source):,} characters (the limit is {MAX_SOURCE_LENGTH:,})")
    kind = "expression" if mode == "eval" else "script"
    try:
        tree = ast.parse(source, _FILENAME, mode)
    except SyntaxError as error:
        raise UnsafeExpression(f"is not a valid Python {kind}: {error.msg[:200]}", error.lineno) from error
    except (ValueError, MemoryError, RecursionError) as error:
        detail = str(error)[:200] or "too complex"
        raise UnsafeExpression(f"is not a valid Python {kind}: {detail}") from error
    nodes = sum(1 for _ in ast.walk(tree))
    if nodes > MAX_NODES:
        raise UnsafeExpression(f"is too long: {nodes:,} syntax nodes (the limit is {MAX_NODES:,})")
    if _depth(tree) > MAX_DEPTH:
        raise UnsafeExpression(f"is nested too deeply (the limit is {MAX_DEPTH} levels)")
    # Literal parts are worked out with the run-time guards, under the same budget.
    budget = _work_left.set([MAX_WORK])
    try:
        _Checker(_EXPRESSION_NODES if mode == "eval" else _SCRIPT_NODES).visit(tree)
    finally:
        _work_left.reset(budget)
    return tree


# --- compiling -----------------------------------------------------------------

def _is_literal(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return all(_is_literal(element) for element in node.elts)
    if isinstance(node, ast.Dict):
        return all(_is_literal(part) for part in (*node.keys, *node.values))
    return False


def _call(at: ast.AST, name: str, *args: ast.expr) -> ast.Call:
    call = ast.Call(func=ast.Name(name, ast.Load()), args=list(args), keywords=[])
    return ast.fix_missing_locations(ast.copy_location(call, at))


class _GuardingTransformer(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus size guards on operators and built values."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        node = self.node_contents_visit(node)
        symbol = _OPERATOR_SYMBOLS.get(type(node.op), type(node.op).__name__)
        return _call(node, "_binop_", ast.Constant(symbol), node.left, node.right)

    def _sized(self, node: ast.expr) -> ast.AST:
        literal = _is_literal(node)
        node = self.node_contents_visit(node)
        if literal or not isinstance(getattr(node, "ctx", ast.Load()), ast.Load):
            return node
        return _call(node, "_sized_", node)

    visit_List = visit_Tuple = visit_Set = visit_Dict = _sized

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.AST:
        return self._sized(node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:
        # The format spec is a literal (checked); only the value is rewritten.
        node.value = self.visit(node.value)
        return node


class _Compiled(NamedTuple):
    code: Any
    assigned: frozenset[str]


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _compile(source: str, mode: str) -> _Compiled:
    tree = _parse(source, mode)
    assigned = frozenset(
        node.id for node in ast.walk(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store))
    compile_restricted = compile_restricted_eval if mode == "eval" else compile_restricted_exec
    result = compile_restricted(tree, _FILENAME, policy=_GuardingTransformer)
    if result.errors or result.code is None:
        raise UnsafeExpression("refused by RestrictedPython: " + "; ".join(result.errors))
    return _Compiled(result.code, assigned)


def _expression(source: Any) -> str:
    # Text from a diagram is often indented; eval() itself ignores that.
    return source.strip() if isinstance(source, str) else source


def _compiled(source: Any, mode: str) -> _Compiled:
    if not isinstance(source, str):
        raise UnsafeExpression(f"must be text, not {type(source).__name__}")
    return _compile(source, mode)


def check_expression(source: str) -> None:
    """Refuse, before deployment, a condition or timer date that may not run."""
    _compiled(_expression(source), "eval")


def check_script(source: str) -> None:
    """Refuse, before deployment, a script task that may not run."""
    _compiled(source, "exec")


# --- the SpiffWorkflow environment ----------------------------------------------

def _visible(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """Entries a diagram can name: names starting with '_' could only clash with the guards."""
    return {key: value for key, value in (values or {}).items()
            if isinstance(key, str) and not key.startswith("_")}


class RestrictedEnvironment(BasePythonScriptEngineEnvironment):
    """A SpiffWorkflow script environment that runs only checked, guarded code."""

    def __init__(self, functions: Mapping[str, Callable]) -> None:
        super().__init__({})
        for name in functions:
            if not name.isidentifier() or name.startswith("_") or name in ALLOWED_BUILTINS \
                    or name in FORBIDDEN_NAMES:
                raise ValueError(f"{name!r} cannot be offered to diagram expressions")
        self.functions: Mapping[str, Callable] = MappingProxyType(dict(functions))
        # The functions, then the guards over them, merged once: every evaluation adds them.
        self._trusted: dict[str, Any] = {**self.functions, **_GUARDS}

    def _namespace(self, data: Mapping[str, Any],
                   external_context: Mapping[str, Any] | None) -> dict[str, Any]:
        namespace = _visible(data)
        if external_context:
            namespace.update(_visible(external_context))
        namespace.update(self._trusted)
        return namespace

    def evaluate(self, expression: str, context: Mapping[str, Any],
                 external_context: Mapping[str, Any] | None = None) -> Any:
        """The value of a checked expression over the task data and the functions."""
        compiled = _compiled(_expression(expression), "eval")
        namespace = self._namespace(context, external_context)
        budget = _work_left.set([MAX_WORK])
        try:
            return eval(compiled.code, namespace)
        finally:
            _work_left.reset(budget)

    def execute(self, script: str, context: dict[str, Any],
                external_context: Mapping[str, Any] | None = None) -> bool:
        """Run a checked script; on success its assignments become task data."""
        compiled = _compiled(script, "exec")
        clashes = sorted(set(self.functions) & set(context))
        if clashes:
            raise ValueError("You have task data that overwrites a predefined function(s). Please "
                             f"change the following variable or field name(s): {clashes}")
        clashes = sorted(compiled.assigned & set(self.functions))
        if clashes:
            raise UnsafeExpression(f"assigns to '{clashes[0]}', which is a predefined function")
        data = copy.deepcopy(_visible(context))
        namespace = self._namespace(data, external_context)
        budget = _work_left.set([MAX_WORK])
        try:
            exec(compiled.code, namespace)
        finally:
            _work_left.reset(budget)
        external = set(external_context or ()) - compiled.assigned
        for name in (data.keys() | compiled.assigned) - external:
            if name in namespace and not callable(namespace[name]):
                context[name] = namespace[name]
        return True

    def call_service(self, context: Mapping[str, Any], **kwargs: Any) -> Any:
        raise UnsafeExpression("service calls are not supported")


class _RestrictedScriptEngine(PythonScriptEngine):
    def call_service(self, task: Any, **kwargs: Any) -> Any:
        # SpiffWorkflow 3.2's own version fails with a NameError when refusing.
        try:
            return self.environment.call_service(task.data, **kwargs)
        except Exception as error:
            raise WorkflowTaskException(str(error), task=task, exception=error) from error


def restricted_script_engine(functions: Mapping[str, Callable]) -> PythonScriptEngine:
    """A script engine for ``BpmnWorkflow`` that evaluates diagram code restrictedly."""
    return _RestrictedScriptEngine(environment=RestrictedEnvironment(functions))
