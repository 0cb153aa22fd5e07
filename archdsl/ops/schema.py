"""An op's parameter schema: declared as for pydantic (annotations, ``Field`` constraints, ``model_validator``
and ``field_validator``), checked here without importing pydantic where every value is plainly valid.

pydantic stays the schema's validator of record: a value the check here is not sure of (a string for a number,
a list for a pair, a constraint or a rule broken) goes to a pydantic model built from the same declaration on
first need (:func:`pydantic_model`), which accepts it as pydantic would or raises its ``ValidationError``, the
errors archdsl words for the user. The check here accepts only what pydantic accepts and makes the same values
of it (tests/test_schema.py compares the two on every field of every op); its point is that importing pydantic
and building its validators cost ``archdsl check`` and ``report`` more than all their other work on a library
network (docs/design.md, "Start-up").

A schema's instances are immutable and equal by value; the same arguments give the same instance (a network of
20,000 ``relu`` layers checks them once).
"""

from __future__ import annotations

import functools
import types
from typing import Any, ClassVar, Literal, Union, get_args, get_origin, get_type_hints

REQUIRED: Any = type("Required", (), {"__repr__": lambda self: "REQUIRED"})()  # a field without a default
MEMO = 4096  # instances remembered per schema (distinct argument sets; a spec rarely has more)


class FieldInfo:
    """A field: its default (or REQUIRED), its bounds, and, once its class is made, its type."""

    def __init__(self, default: Any = REQUIRED, **bounds: Any):
        unknown = set(bounds) - {"gt", "ge", "lt", "le", "min_length"}
        if unknown:
            raise TypeError(f"Field takes no {', '.join(sorted(unknown))}")
        self.default, self.bounds, self.annotation = default, {k: v for k, v in bounds.items() if v is not None}, None

    def is_required(self) -> bool:
        return self.default is REQUIRED

    def typed(self, annotation: Any) -> FieldInfo:
        out = FieldInfo(self.default, **self.bounds)
        out.annotation = annotation
        return out

    def within(self, v: Any) -> bool:
        """Whether ``v`` (of the field's type) keeps every bound."""
        b = self.bounds
        if "min_length" in b and len(v) < b["min_length"]:
            return False
        if not isinstance(v, (int, float)):
            return not set(b) - {"min_length"}  # a bound on a number: pydantic says what it makes of the rest
        return not (
            ("gt" in b and not v > b["gt"])
            or ("ge" in b and not v >= b["ge"])
            or ("lt" in b and not v < b["lt"])
            or ("le" in b and not v <= b["le"])
        )


def Field(default: Any = REQUIRED, **bounds: Any) -> Any:  # noqa: N802 (pydantic's name, as the ops write it)
    """``pydantic.Field`` as the ops use it: a default and the bounds gt, ge, lt, le, min_length."""
    return FieldInfo(default, **bounds)


class _Validator:
    """A function marked as a validator, as pydantic's decorators mark it."""

    def __init__(self, func: Any, field: str | None, mode: str):
        self.func, self.field, self.mode = func, field, mode


def model_validator(*, mode: str) -> Any:
    """``pydantic.model_validator(mode="after")``: a method that checks (and may settle) the whole instance."""
    if mode != "after":
        raise TypeError("only model_validator(mode='after') is supported")
    return lambda func: _Validator(func, None, mode)


def field_validator(field: str, *, mode: str = "after") -> Any:
    """``pydantic.field_validator(field, mode=...)`` on a classmethod: converts (``"before"``) or checks
    (``"after"``) one field's value."""
    if mode not in ("before", "after"):
        raise TypeError("field_validator takes mode 'before' or 'after'")
    return lambda method: _Validator(method, field, mode)


class Params:
    """Base of every op's parameter schema: strict about unknown names, immutable. ``model_fields`` and
    ``model_dump`` are named as pydantic names them."""

    model_fields: ClassVar[dict[str, FieldInfo]] = {}
    _validators: ClassVar[dict[str, _Validator]] = {}
    _memo: ClassVar[dict]

    def __init_subclass__(cls, **kw: Any):
        super().__init_subclass__(**kw)
        own = {k: v for k, v in vars(cls).items() if isinstance(v, _Validator)}
        cls._validators = {**cls._validators, **own}
        for name, v in own.items():  # the plain function stays reachable, as pydantic leaves it
            setattr(cls, name, v.func)
        hints = get_type_hints(cls)
        fields = {}
        for name, tp in hints.items():
            if get_origin(tp) is ClassVar or name.startswith("_"):
                continue
            default = getattr(cls, name, REQUIRED)
            info = default if isinstance(default, FieldInfo) else FieldInfo(default)
            fields[name] = info.typed(tp)
        cls.model_fields = fields
        cls._memo = {}

    def __new__(cls, **values: Any) -> Params:
        key = _key(values)
        found = cls._memo.get(key) if key is not None else None
        if found is None:
            found = _checked(cls, values)
            if found is None:
                found = _built(cls, dict(pydantic_model(cls)(**values)))
            if key is not None:
                if len(cls._memo) >= MEMO:
                    cls._memo.clear()
                cls._memo[key] = found
        return found

    def __init__(self, **values: Any):  # done in __new__
        pass

    def __setattr__(self, name: str, value: Any) -> None:
        raise TypeError(f"{type(self).__name__} is immutable")

    def model_dump(self, exclude: set[str] | None = None) -> dict[str, Any]:
        """The fields and their values, in order (``exclude``: names to leave out)."""
        return {k: v for k, v in self.__dict__.items() if not exclude or k not in exclude}

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash((type(self), _key(self.__dict__)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"

    def __copy__(self) -> Params:
        return self

    def __deepcopy__(self, memo: dict) -> Params:
        return self

    def __reduce__(self) -> tuple:
        return _built, (type(self), dict(self.__dict__))


def _key(values: dict[str, Any]) -> tuple | None:
    """A hashable key for a set of arguments (None where a value is not hashable). Types are part of it: 1, 1.0
    and True are equal in Python but not to a schema."""
    try:
        key = tuple(sorted((k, _typed(v)) for k, v in values.items()))
        hash(key)
        return key
    except TypeError:
        return None


def _typed(v: Any) -> Any:
    return (type(v), tuple(_typed(x) for x in v)) if isinstance(v, (tuple, list)) else (type(v), v)


def _built(cls: type[Params], values: dict[str, Any]) -> Params:
    """An instance holding ``values`` as they are (already checked)."""
    out = object.__new__(cls)
    out.__dict__.update(values)
    return out


def _checked(cls: type[Params], values: dict[str, Any]) -> Params | None:
    """The instance, where every value is plainly valid and every validator passes; else None (pydantic decides)."""
    fields, validators = cls.model_fields, cls._validators.values()
    if not set(values) <= set(fields):
        return None
    out = {}
    try:
        for name, info in fields.items():
            if name not in values:
                if info.is_required():
                    return None
                out[name] = info.default  # pydantic neither checks a default nor runs field validators on it
                continue
            v = values[name]
            for val in validators:
                if val.field == name and val.mode == "before":
                    v = val.func.__func__(cls, v)
            ok, v = accept(info.annotation, v)
            if not ok or not info.within(v):
                return None
            for val in validators:
                if val.field == name and val.mode == "after":
                    v = val.func.__func__(cls, v)
            out[name] = v
        instance = _built(cls, out)
        for val in validators:
            if val.field is None:
                instance = val.func(instance)
        return instance
    except Exception:  # a validator's refusal: pydantic raises it as its ValidationError
        return None


def accept(tp: Any, v: Any) -> tuple[bool, Any]:
    """(True, the value pydantic makes of ``v`` for type ``tp``) where that is plain, else (False, None): an
    exact type for int, bool and str (0 and 1 for a bool too; a float for float, from an int too), a tuple for
    a tuple, the one alternative of a union that takes ``v`` exactly."""
    origin = get_origin(tp)
    if tp is Any:
        return True, v
    if tp is type(None):
        return v is None, v
    if tp is bool and type(v) is int and v in (0, 1):  # as pydantic reads bias=1 (bn_inception)
        return True, bool(v)
    if tp in (int, bool, str):
        return type(v) is tp, v
    if tp is float:
        return (type(v) in (int, float)), float(v) if type(v) in (int, float) else None
    if origin is Literal:
        return any(type(v) is type(a) and v == a for a in get_args(tp)), v
    if origin is tuple:
        return _tuple(get_args(tp), v)
    if origin in (Union, types.UnionType):
        exact = [a for a in get_args(tp) if _exact(a, v)]  # pydantic's smart union: an exact match wins
        return accept(exact[0], v) if len(exact) == 1 else (False, None)
    return False, None


def _tuple(args: tuple, v: Any) -> tuple[bool, Any]:
    if type(v) is not tuple:
        return False, None
    items = [args[0]] * len(v) if len(args) == 2 and args[1] is Ellipsis else list(args)
    if len(items) != len(v):
        return False, None
    out = [accept(a, x) for a, x in zip(items, v)]
    return (True, tuple(x for _, x in out)) if all(ok for ok, _ in out) else (False, None)


def _exact(tp: Any, v: Any) -> bool:
    """Whether ``v`` is exactly of type ``tp`` (a float for float: an int is an exact float to no union here)."""
    origin = get_origin(tp)
    if tp is type(None):
        return v is None
    if tp in (int, bool, str, float):
        return type(v) is tp
    if origin is Literal:
        return accept(tp, v)[0]
    if origin is tuple:
        return _tuple(get_args(tp), v)[0]
    return False


@functools.cache
def pydantic_model(cls: type[Params]) -> type:
    """The pydantic model of ``cls``'s declaration: its fields, bounds and validators, and its other methods
    (validators call them), frozen and strict about unknown names."""
    import pydantic
    from pydantic_core import PydanticUndefined

    namespace: dict[str, Any] = {"__module__": cls.__module__, "__doc__": cls.__doc__, "__annotations__": {}}
    for klass in reversed(cls.__mro__[: cls.__mro__.index(Params)]):
        for name, value in vars(klass).items():
            if isinstance(value, types.FunctionType) and not name.startswith("__") and name not in cls._validators:
                namespace[name] = value
    for name, info in cls.model_fields.items():
        namespace["__annotations__"][name] = info.annotation
        default = PydanticUndefined if info.is_required() else info.default
        namespace[name] = pydantic.Field(default, **info.bounds)
    for name, val in cls._validators.items():
        if val.field is None:
            namespace[name] = pydantic.model_validator(mode="after")(val.func)
        else:
            namespace[name] = pydantic.field_validator(val.field, mode=val.mode)(val.func)
    namespace["model_config"] = pydantic.ConfigDict(extra="forbid", frozen=True)
    return type(cls.__name__, (pydantic.BaseModel,), namespace)
