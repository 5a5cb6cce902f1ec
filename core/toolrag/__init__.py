"""ToolRAG: which of the 16 tools a request needs, so only those go into the planner's prompt.

`ToolClassifier` runs an ONNX sequence classifier (the built-in compact model, or the
converted TinyAgent-ToolRAG DeBERTa) on onnxruntime; `ToolRAG` turns its probabilities into
a `Selection` (threshold, enabled apps, companion rules). See examples.py for the
in-context example pool, train.py for the compact model, convert.py for the DeBERTa.
"""

from core.toolrag.classifier import LABELS, ToolClassifier, ToolRAGError, builtin_model_dir
from core.toolrag.select import Selection, ToolRAG

__all__ = ["LABELS", "Selection", "ToolClassifier", "ToolRAG", "ToolRAGError", "builtin_model_dir"]
