"""The torch backend: graph → ``torch.fx`` module (``compile``, ``layers``), standalone source
(``codegen``), weights, ONNX/TorchScript export, the lecture's sanity checks and detection decoding."""
