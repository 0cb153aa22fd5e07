"""The language: text → graph. Grammar loading and parsing (``parse``, ``ast``), imports and the library
(``files``, ``library``), values and arguments (``eval``, ``args``, ``naming``), and the expansion of
blocks, repeats and labels into a graph (``elaborate``, with ``bound`` sizing an expansion before it runs)."""
