"""``python -m archdsl.ops``: the table of ops for docs/language.md."""

from . import reference_table

print(reference_table())
