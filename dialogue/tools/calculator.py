"""Arithmetic from text by walking its parsed syntax tree: numbers and operators only, never `eval`."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable

MAX_POWER = 1000
"""Largest exponent allowed: `9 ** 9 ** 9` would otherwise keep the machine busy for hours."""
MAX_LENGTH = 200

_BINARY: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[float], float]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_FUNCTIONS: dict[str, Callable[..., float]] = {
    "sqrt": math.sqrt,
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
}
_CONSTANTS = {"pi": math.pi, "e": math.e}


class CalculationError(ValueError):
    """The expression is not plain arithmetic, or has no value (division by zero, ...)."""


def calculate(expression: str) -> float | int:
    """The value of `expression` (`+ - * / // % **`, parentheses, `sqrt abs round min max`, `pi e`);
    `x` and `^` are read as multiplication and power, as people say and type them."""
    text = expression.strip().replace("^", "**").replace("×", "*").replace("÷", "/")
    text = " ".join("*" if word == "x" else word for word in text.split(" "))
    if not text or len(text) > MAX_LENGTH:
        raise CalculationError(f"an expression of 1 to {MAX_LENGTH} characters is needed")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise CalculationError(f"not arithmetic: {expression!r}") from None
    try:
        value = _value(tree.body)
    except (ZeroDivisionError, OverflowError, ValueError, TypeError) as exc:
        raise CalculationError(f"{expression!r} has no value ({exc})") from None
    return int(value) if isinstance(value, float) and value.is_integer() and abs(value) < 1e15 else value


def _value(node: ast.AST) -> float:
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
    ):
        return node.value
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_value(node.operand))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _value(node.left), _value(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_POWER:
            raise CalculationError(f"an exponent above {MAX_POWER} is not allowed")
        return _BINARY[type(node.op)](left, right)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCTIONS
        and not node.keywords
    ):
        return _FUNCTIONS[node.func.id](*(_value(arg) for arg in node.args))
    raise CalculationError(f"not allowed in arithmetic: {ast.unparse(node)!r}")
