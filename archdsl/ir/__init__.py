"""The graph and its analysis, never importing torch: the graph (``graph``), shape inference and the
analysis record (``infer``, ``analysis``), memory, sets of input sizes and the symbolic walk (``sizes``,
``symbolic``), input contracts (``contract``) and graph transforms (``transform``)."""
