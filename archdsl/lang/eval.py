"""Variables and integer arithmetic, evaluated over the AST (never with ``eval``)."""

from __future__ import annotations

import reprlib
import threading
from typing import Any

from ..errors import ArgumentError, LimitError, Span, UnknownNameError
from ..limits import MAX_INT, MAX_RANGE, MAX_VALUES
from . import ast

SYMBOLS = {"true": True, "false": False, "none": None}
_work = threading.local()


def reset_work(start: int = 0) -> None:
    """Start counting the values expressions make (a new spec is being loaded, or expanded after
    loading made ``start``)."""
    _work.values = start


def work_done() -> int:
    """The values made since reset_work()."""
    return getattr(_work, "values", 0)


def size(value: Any, cap: int = MAX_VALUES) -> int:
    """A value's whole size: the elements of a tuple and of every tuple inside it (a tuple that
    holds one value a thousand times counts it a thousand times). Counting stops past ``cap``, so
    it takes no longer than a value of ``cap`` elements, however large the value is."""
    total, stack = 0, [value]
    while stack and total <= cap:
        item = stack.pop()
        if isinstance(item, tuple):
            total += len(item)
            stack.extend(x for x in item if isinstance(x, tuple))
    return total


def _charge_whole(value: Any, span: Span) -> Any:
    """Charge a value an expression built for its whole size, so that tuples nested in tuples
    cannot grow past MAX_VALUES while each step looks small."""
    _charge(size(value, MAX_VALUES - getattr(_work, "values", 0)), span)
    return value


def outside(name: str, value: Any) -> Any:
    """A variable's value set from Python (``load(spec, n=...)``), as the language could have written it:
    true/false/none, a whole number or a finite decimal of at most 2^53, text, or a tuple (a list reads
    as one) of those of at most MAX_VALUES elements in all; anything else is an ArgumentError."""
    count = [0]

    def read(value: Any) -> Any:
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (int, float)):
            if not abs(value) <= MAX_INT:  # inf, nan and 10**30 alike
                raise ArgumentError(
                    f"variable '{name}' takes a number of at most 2^53, got {shown(value)}",
                    None,
                    "sizes this large cannot be built",
                )
            return value
        if isinstance(value, (tuple, list)):
            count[0] += len(value)  # a list holding one list a thousand times counts it a thousand times
            if count[0] > MAX_VALUES:
                raise LimitError(f"variable '{name}' holds more than {MAX_VALUES:,} values", None)
            return tuple(read(v) for v in value)
        raise ArgumentError(
            f"variable '{name}' takes a number, text, true/false/none or a tuple of those, got {type(value).__name__}",
            None,
        )

    return read(value)


def shown(value: Any) -> str:
    """A value as an error message shows it: its repr, shortened when long (a range(100000) is
    shown by its first items)."""
    return _SHOWN.repr(value)


_SHOWN = reprlib.Repr()
_SHOWN.maxtuple, _SHOWN.maxlevel, _SHOWN.maxstring, _SHOWN.maxother = 8, 3, 60, 60


def _charge(n: int, span: Span) -> None:
    """Expressions are cheap one by one, but ``range(100000)`` inside a loop of 100,000 passes is not:
    count the values made, so that a spec cannot spend minutes evaluating."""
    _work.values = getattr(_work, "values", 0) + n
    if _work.values > MAX_VALUES:
        raise LimitError(
            f"the spec's expressions make more than {MAX_VALUES:,} values",
            span,
            "a range() inside a loop is made again on every pass: make it once, before the loop",
        )


class Env:
    """A chain of variable scopes: file variables, then block parameters, then local assignments."""

    def __init__(self, values: dict[str, Any] | None = None, parent: Env | None = None):
        self.values = dict(values or {})
        self.parent = parent

    def child(self) -> Env:
        return Env(parent=self)

    def lookup(self, name: str) -> tuple[bool, Any]:
        env = self
        while env is not None:
            if name in env.values:
                return True, env.values[name]
            env = env.parent
        return False, None

    def names(self) -> set[str]:
        out, env = set(), self
        while env is not None:
            out |= set(env.values)
            env = env.parent
        return out

    def get(self, name: str, span: Span | None) -> Any:
        found, value = self.lookup(name)
        if not found:
            raise UnknownNameError("variable", name, self.names(), span)
        return value

    def set(self, name: str, value: Any, span: Span | None) -> None:
        self.values[name] = value

    def override(self, name: str, value: Any, span: Span | None) -> None:
        if not self.lookup(name)[0]:
            raise UnknownNameError(
                "variable", name, self.names(), span, None if self.names() else "the spec defines no variables"
            )
        self.values[name] = value


def evaluate(expr: ast.Expr, env: Env, symbols: bool = False) -> Any:
    """Evaluate an expression. With ``symbols``, an unknown bare name is a word like ``bilinear``."""
    if isinstance(expr, ast.Num):
        return _checked(expr.value, expr.span)
    if isinstance(expr, ast.Str):
        return expr.value
    if isinstance(expr, ast.Var):
        if expr.name.lower() in SYMBOLS and not env.lookup(expr.name)[0]:
            return SYMBOLS[expr.name.lower()]
        found, value = env.lookup(expr.name)
        if found:
            return value
        if symbols:
            return expr.name
        return env.get(expr.name, expr.span)
    if isinstance(expr, ast.Tuple):
        return _charge_whole(tuple(evaluate(x, env, symbols) for x in expr.items), expr.span)
    if isinstance(expr, ast.Neg):
        return _checked(-_number(evaluate(expr.operand, env), expr.span), expr.span)
    if isinstance(expr, ast.Cond):
        chosen = expr.then if truth(evaluate(expr.cond, env, symbols), expr.cond.span) else expr.otherwise
        return evaluate(chosen, env, symbols)
    if isinstance(expr, ast.Not):
        return not truth(evaluate(expr.operand, env, symbols), expr.operand.span)
    if isinstance(expr, ast.BinOp) and expr.op in ("and", "or"):
        a = truth(evaluate(expr.left, env, symbols), expr.left.span)
        if a == (expr.op == "or"):  # short-circuit, like Python
            return a
        return truth(evaluate(expr.right, env, symbols), expr.right.span)
    if isinstance(expr, ast.BinOp) and expr.op in COMPARISONS:
        return _compare(expr, evaluate(expr.left, env, symbols), evaluate(expr.right, env, symbols))
    if isinstance(expr, ast.Call):
        return _call(expr, [evaluate(a, env, symbols) for a in expr.args])
    if isinstance(expr, ast.Index):
        return _index(expr, evaluate(expr.target, env, symbols), evaluate(expr.index, env))
    if isinstance(expr, ast.BinOp):
        a = _number(evaluate(expr.left, env), expr.left.span)
        b = _number(evaluate(expr.right, env), expr.right.span)
        return _checked(_apply(expr.op, a, b, expr.span), expr.span)
    if isinstance(expr, ast.Ref):
        raise ArgumentError(
            f"@{expr.path} cannot be used as a value here",
            expr.span,
            "references go where an op takes one, like crop(@label)",
        )
    raise TypeError(expr)


COMPARISONS = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
FUNCTIONS = ("range", "min", "max", "len", "int", "round")


def truth(v: Any, span: Span) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v != 0
    raise ArgumentError(
        f"a condition needs a number or true/false, got {shown(v)}", span, 'compare it: if mode == "bn" { ... }'
    )


def _compare(expr: ast.BinOp, a, b) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):  # compared element by element, nested ones too
        left = MAX_VALUES - getattr(_work, "values", 0)
        _charge(min(size(a, left), size(b, left)), expr.span)
    if expr.op in ("==", "!="):
        return COMPARISONS[expr.op](a, b)
    if not (isinstance(a, (int, float)) and isinstance(b, (int, float))):
        raise ArgumentError(f"'{expr.op}' compares numbers, got {shown(a)} and {shown(b)}", expr.span)
    return COMPARISONS[expr.op](a, b)


def _call(expr: ast.Call, args: list):
    name, span = expr.name, expr.span
    if name not in FUNCTIONS:
        err = UnknownNameError("function", name, FUNCTIONS, span)
        err.hint = err.hint or f"the functions are {', '.join(FUNCTIONS)}"
        raise err
    if name == "len":
        if len(args) != 1 or not isinstance(args[0], (tuple, str)):
            raise ArgumentError("len takes one tuple: len((64, 128))", span)
        return len(args[0])
    if name == "range":
        if not 1 <= len(args) <= 3 or not all(isinstance(a, int) and not isinstance(a, bool) for a in args):
            raise ArgumentError("range takes one to three integers: range(n), range(1, n + 1), range(0, n, 2)", span)
        if len(args) == 3 and args[2] == 0:
            raise ArgumentError("range's step cannot be 0", span)
        r = range(*args)
        if len(r) > MAX_RANGE:
            raise LimitError(
                f"range of {len(r):,} items is longer than {MAX_RANGE:,}",
                span,
                "a network this long cannot be built; lower the count",
            )
        _charge(len(r), span)
        return tuple(r)
    if name in ("int", "round"):  # int truncates toward zero, round goes to the nearest (halves to even)
        if len(args) != 1 or isinstance(args[0], bool) or not isinstance(args[0], (int, float)):
            raise ArgumentError(f"{name} takes one number: {name}(0.75 * 32)", span)
        return _checked(int(args[0]) if name == "int" else round(args[0]), span)
    items = args[0] if len(args) == 1 and isinstance(args[0], tuple) else tuple(args)
    _charge(len(items), span)
    if not items or not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in items):
        raise ArgumentError(f"{name} takes numbers: {name}(a, b)", span)
    return min(items) if name == "min" else max(items)


def _index(expr: ast.Index, target, i):
    if not isinstance(target, (tuple, str)):
        raise ArgumentError(f"only a tuple can be indexed, not {shown(target)}", expr.target.span)
    if not isinstance(i, int) or isinstance(i, bool):
        raise ArgumentError(f"an index is an integer, got {shown(i)}", expr.index.span)
    if not -len(target) <= i < len(target):
        raise ArgumentError(
            f"index {i} is out of range for {len(target)} items",
            expr.index.span,
            f"indices run from 0 to {len(target) - 1}" if target else "the tuple is empty",
        )
    return target[i]


def _apply(op: str, a, b, span: Span):
    if op in "/%" and b == 0:
        raise ArgumentError("division by zero", span)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        if abs(a) > MAX_INT or abs(b) > MAX_INT:
            raise LimitError("number too large", span)
        return a * b
    if op == "/":
        return a // b if isinstance(a, int) and isinstance(b, int) else a / b
    return a % b


def _number(v, span: Span):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ArgumentError(f"arithmetic needs numbers, got {shown(v)}", span)
    return v


def _checked(v, span: Span):
    if isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) > MAX_INT:
        raise LimitError(f"number {v:.3g} is larger than {MAX_INT:,}", span, "sizes this large cannot be built")
    return v
