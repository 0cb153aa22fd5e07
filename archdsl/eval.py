"""Variables and integer arithmetic, evaluated over the AST (never with ``eval``)."""
from __future__ import annotations

from typing import Any

from . import ast
from .errors import ArgumentError, LimitError, Span, UnknownNameError

MAX_INT = 2**53
SYMBOLS = {"true": True, "false": False, "none": None}


class Env:
    """A chain of variable scopes: file variables, then block parameters, then local assignments."""

    def __init__(self, values: dict[str, Any] | None = None, parent: "Env | None" = None):
        self.values = dict(values or {})
        self.parent = parent

    def child(self) -> "Env":
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
            raise UnknownNameError("variable", name, self.names(), span,
                                   None if self.names() else "the spec defines no variables")
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
        return tuple(evaluate(x, env, symbols) for x in expr.items)
    if isinstance(expr, ast.Neg):
        return _checked(-_number(evaluate(expr.operand, env), expr.span), expr.span)
    if isinstance(expr, ast.BinOp):
        a = _number(evaluate(expr.left, env), expr.left.span)
        b = _number(evaluate(expr.right, env), expr.right.span)
        return _checked(_apply(expr.op, a, b, expr.span), expr.span)
    if isinstance(expr, ast.Ref):
        raise ArgumentError(f"@{expr.path} cannot be used as a value here", expr.span,
                            "references go where an op takes one, like crop(@label)")
    raise TypeError(expr)


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
        raise ArgumentError(f"arithmetic needs numbers, got {v!r}", span)
    return v


def _checked(v, span: Span):
    if isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) > MAX_INT:
        raise LimitError(f"number {v:.3g} is larger than {MAX_INT:,}", span, "sizes this large cannot be built")
    return v
