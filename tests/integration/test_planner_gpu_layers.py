"""planner.gpu_layers: what llama.cpp is asked to offload (n_gpu_layers), and the line saying so."""
from __future__ import annotations

import llama_cpp
import pytest

from tinyagent.core.config import ConfigError, parse_config
from tinyagent.core.planner.llm import LocalLLM, ModelLoadError, gpu_layers_for


@pytest.mark.parametrize("gpu,setting,layers,words", [
    (True, "auto", -1, "all layers on the GPU"),
    (False, "auto", 0, "built without a GPU backend (planner.gpu_layers: auto)"),
    (True, "0", 0, "CPU (planner.gpu_layers: 0)"),
    (True, "20", 20, "20 layers on the GPU"),
    (False, 20, 0, "planner.gpu_layers is 20 but this llama.cpp was built without a GPU backend"),
])
def test_the_setting_becomes_n_gpu_layers(monkeypatch, gpu, setting, layers, words):
    monkeypatch.setattr(llama_cpp, "llama_supports_gpu_offload", lambda: gpu)
    chosen, line = gpu_layers_for(setting)
    assert chosen == layers and words in line and "\n" not in line


def test_bad_settings_are_refused(monkeypatch):
    with pytest.raises(ModelLoadError):
        gpu_layers_for("lots")
    with pytest.raises(ConfigError, match="planner.gpu_layers"):
        parse_config("planner: {gpu_layers: lots}")
    assert parse_config("planner: {gpu_layers: 12}").planner.gpu_layers == "12"


def test_the_model_is_loaded_with_it(tiny_gguf, monkeypatch):
    llm = LocalLLM(tiny_gguf, n_ctx=256, n_threads=1, gpu_layers="auto")
    try:
        expected = -1 if llama_cpp.llama_supports_gpu_offload() else 0
        assert llm.llama.model_params.n_gpu_layers == expected
        assert llm.engine.startswith("tiny.gguf in-process, ")
    finally:
        llm.close()
