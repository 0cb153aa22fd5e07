"""The language server (``archdsl lsp``): what an editor shows of a spec while it is written.

:mod:`archdsl.lsp.features` answers every question (diagnostics, hover, completion, definitions, symbols,
inlay hints) as plain functions of a document's text, its path and a position, with the stages the
command line uses; :mod:`archdsl.lsp.server` is the pygls wiring, the only module that imports pygls
(installed with the ``lsp`` extra). docs/editor.md says how to start it from an editor."""
