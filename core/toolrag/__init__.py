"""ToolRAG: which of the 16 tools a request needs, so only those go into the planner's prompt.

`ToolClassifier` runs an ONNX sequence classifier (the built-in fine-tuned MiniLM, the
compact model, or the converted TinyAgent-ToolRAG DeBERTa) on onnxruntime; `ToolRAG` turns its
probabilities into a `Selection` (threshold, enabled apps, companion rules). See examples.py
for the in-context example pool and embed.py for ranking it by the MiniLM's embeddings,
train_encoder.py for the MiniLM model, train.py for the compact one, convert.py for the DeBERTa.
"""

from tinyagent.core.toolrag.classifier import LABELS, ToolClassifier, ToolRAGError, builtin_model_dir
from tinyagent.core.toolrag.select import Selection, ToolRAG

__all__ = ["LABELS", "Selection", "ToolClassifier", "ToolRAG", "ToolRAGError", "builtin_model_dir"]
