"""In-context examples: requests with their plans, picked to fit the selected tools.

The built-in pool (core/toolrag/examples.yaml) is written by us; users add their own in
<config dir>/examples.yaml (same format: a list of {query, plan}), for instance a plan that
ran well, with `tinyagent examples add`. Every plan must parse and validate.

Picking (`ExamplePool.pick`) is greedy and local: each step takes the example that covers
most of the still-uncovered selected tools, fits the selected set best (Jaccard), uses no
tool outside it, and is most similar to the request (cosine similarity of the built-in
ToolRAG encoder's embeddings, see embed.py; BM25 over words without it).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tinyagent.core.config import UnsafeYaml, check_yaml_events, config_dir
from tinyagent.core.jsonl import InputError, JsonlError, jsonl_lines, read_limited, read_record
from tinyagent.core.parser import PlanError, load_plan
from tinyagent.core.toolrag.embed import EmbeddingIndex, default_encoder
from tinyagent.tools.registry import TOOL_NAMES

BUILTIN_FILE = Path(__file__).with_name("examples.yaml")
USER_FILE_NAME = "examples.yaml"
_WORD = re.compile(r"[a-z0-9]+")
_DEFAULT = object()


class ExampleError(ValueError):
    """A bad example or examples file; the message names the file and the entry."""


@dataclass(frozen=True)
class Example:
    query: str
    plan: str  # canonical plan text, ending with join()<END_OF_PLAN>
    tools: tuple[str, ...]  # the tools the plan uses, registry order
    source: str = "builtin"  # "builtin" or "user"


def user_examples_file() -> Path:
    return config_dir() / USER_FILE_NAME


def make_example(query: Any, plan_text: Any, source: str = "user") -> Example:
    """Validate one example; raises ExampleError saying what is wrong."""
    if not isinstance(query, str) or not query.strip():
        raise ExampleError("the request ('query') must be non-empty text")
    if not isinstance(plan_text, str) or not plan_text.strip():
        raise ExampleError("the plan must be non-empty text")
    try:
        plan = load_plan(plan_text)
    except PlanError as exc:
        raise ExampleError(f"the plan does not validate: {exc}") from None
    if not plan.tasks:
        raise ExampleError("the plan has no tool calls")
    if not plan.joined:
        raise ExampleError("the plan must end with join()<END_OF_PLAN>")
    used = set(plan.tools)
    return Example(" ".join(query.split()), plan.to_text(), tuple(t for t in TOOL_NAMES if t in used), source)


def read_examples(path: Path, source: str) -> list[Example]:
    try:
        text = path.read_text(encoding="utf-8")
        check_yaml_events(text)  # aliases, tags and deep nesting: refused before PyYAML builds
        data = yaml.safe_load(text)
    except FileNotFoundError:
        raise ExampleError(f"no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ExampleError(f"{path}: cannot read it: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark else ""
        raise ExampleError(f"{path}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    except UnsafeYaml as exc:
        where = f", line {exc.line}" if exc.line else ""
        raise ExampleError(f"{path}{where}: {exc.problem}") from None
    except RecursionError:  # a backstop: check_yaml_events refuses deep nesting first
        raise ExampleError(f"{path}: nested too deeply") from None
    if data is None:
        return []
    if not isinstance(data, list):
        raise ExampleError(f"{path}: expected a list of entries with 'query' and 'plan'")
    out = []
    for n, entry in enumerate(data, 1):
        if not isinstance(entry, dict) or set(entry) != {"query", "plan"}:
            raise ExampleError(f"{path}, entry {n}: expected exactly the keys 'query' and 'plan'")
        try:
            out.append(make_example(entry["query"], entry["plan"], source))
        except ExampleError as exc:
            raise ExampleError(f"{path}, entry {n} ({str(entry['query'])[:60]!r}): {exc}") from None
    return out


def builtin_examples() -> list[Example]:
    return read_examples(BUILTIN_FILE, "builtin")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class ExamplePool:
    def __init__(self, examples: Iterable[Example], encoder: Any = None):
        """`encoder`: a ToolClassifier whose graph gives embeddings (similarity by cosine);
        None: BM25 over words."""
        self.examples = list(examples)
        self._embedded = None
        if encoder is not None and self.examples:
            self._embedded = EmbeddingIndex(encoder, [e.query for e in self.examples])
        docs = [_words(e.query) for e in self.examples]
        self._tf = [Counter(d) for d in docs]
        self._len = [len(d) for d in docs]
        self._avg_len = sum(self._len) / max(1, len(docs))
        df = Counter(w for d in docs for w in set(d))
        n = len(docs)
        self._idf = {w: math.log(1 + (n - c + 0.5) / (c + 0.5)) for w, c in df.items()}

    @classmethod
    def load(cls, user_file: Path | None | object = _DEFAULT, encoder: Any = _DEFAULT) -> ExamplePool:
        """The built-in pool plus the user's file (default <config dir>/examples.yaml, if present);
        similarity by the built-in ToolRAG encoder's embeddings unless `encoder` says otherwise."""
        path = user_examples_file() if user_file is _DEFAULT else user_file
        examples = builtin_examples()
        if isinstance(path, (str, Path)) and Path(path).exists():
            examples += read_examples(Path(path), "user")
        if encoder is _DEFAULT:
            encoder = default_encoder()
        return cls(examples, encoder)

    @classmethod
    def load_for_planning(cls) -> tuple[ExamplePool, str | None]:
        """The pool the planner picks from, and what went wrong if it is less than usual: a broken
        user file is left out (the built-in examples still serve), so planning goes on; the
        caller says the message once (a Notice) instead of losing the user's examples silently."""
        try:
            return cls.load(), None
        except ExampleError as exc:
            problem = f"your examples are not used ({exc}); planning with the built-in examples only"
        try:
            return cls.load(None), problem
        except ExampleError as exc:  # the packaged file itself: a broken install
            return cls([]), f"no in-context examples: the built-in examples cannot be read ({exc})"

    def similarity(self, query: str, index: int, k1: float = 1.2, b: float = 0.75) -> float:
        """How similar example `index` is to `query`: the encoder's cosine similarity mapped to
        0..1 when the pool has an encoder, else BM25 over the words of `query`."""
        if self._embedded is not None:
            return self._embedded.similarity(query, index)
        tf, length = self._tf[index], self._len[index]
        score = 0.0
        for w in set(_words(query)):
            f = tf.get(w, 0)
            if f:
                score += self._idf[w] * f * (k1 + 1) / (f + k1 * (1 - b + b * length / self._avg_len))
        return score

    def _excluded(self, exclude: str | None) -> set[int]:
        if not exclude:
            return set()
        key = " ".join(exclude.split()).casefold()
        return {i for i, e in enumerate(self.examples) if e.query.casefold() == key}

    def pick_within(self, query: str, tools: Iterable[str], k: int = 6, *,
                    exclude: str | None = None) -> list[Example]:
        """TinyAgent's rule (base_tool_rag.py): only examples whose tools are all selected, the k
        most similar first; `exclude` drops examples with that very query (evaluation)."""
        selected = set(tools)
        skip = self._excluded(exclude)
        fits = [i for i, e in enumerate(self.examples) if i not in skip and set(e.tools) <= selected]
        if k <= 0 or not fits:
            return []
        sims = {i: self.similarity(query, i) for i in fits}
        ranked = sorted(fits, key=lambda i: (-sims[i], i))
        return [self.examples[i] for i in ranked[:k]]

    def pick(self, query: str, tools: Iterable[str], k: int = 3, *, exclude: str | None = None) -> list[Example]:
        selected = set(tools)
        if k <= 0 or not self.examples:
            return []
        skip = self._excluded(exclude)
        sims = [self.similarity(query, i) for i in range(len(self.examples))]
        top = max(sims) or 1.0
        chosen: list[int] = []
        covered: set[str] = set()
        while len(chosen) < min(k, len(self.examples) - len(skip)):
            best, best_score = -1, (-1, -math.inf)
            for i, ex in enumerate(self.examples):
                if i in chosen or i in skip:
                    continue
                used = set(ex.tools)
                gain = len((used & selected) - covered) / max(1, len(selected))
                jaccard = len(used & selected) / max(1, len(used | selected))
                outside = len(used - selected) / len(used)
                # An example that uses a tool the prompt does not offer teaches the model to
                # reach for the offered ones in its place (a real 0.5B model looped on lookups):
                # such examples only come after every example that stays within the selection.
                score = (0 if outside else 1, 2.0 * gain + jaccard - 2.0 * outside + 0.5 * sims[i] / top)
                if score > best_score:
                    best, best_score = i, score
            chosen.append(best)
            covered |= set(self.examples[best].tools)
        return [self.examples[i] for i in chosen]


# -- the user's file ----------------------------------------------------------------------
# YAML reads these as line breaks in a block or single-quoted scalar (U+0085 even becomes "\n"),
# so a text holding one is written double-quoted, the one style that escapes them.
_YAML_BREAKS = frozenset("\x85\u2028\u2029")


class _Block(str):
    """A plan written as a `|` block: readable, one plan line a file line."""


class _Dumper(yaml.SafeDumper):
    def represent_str(self, data: str) -> yaml.ScalarNode:
        style = '"' if _YAML_BREAKS & set(data) else "|" if isinstance(data, _Block) else None
        return self.represent_scalar("tag:yaml.org,2002:str", str(data), style=style)


_Dumper.add_representer(str, _Dumper.represent_str)
_Dumper.add_representer(_Block, _Dumper.represent_str)


def _dump_user(examples: list[Example]) -> str:
    data = [{"query": e.query, "plan": _Block(e.plan)} for e in examples]
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)


def _write_user(path: Path, examples: list[Example]) -> None:
    """Replace the user's file, but only with text that reads back as these very examples: a
    file the next `examples list` refused would cost the user every example in it."""
    text = _dump_user(examples)
    tmp = path.with_suffix(".yaml.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(text, encoding="utf-8")
    try:
        back = read_examples(tmp, "user")
    except ExampleError as exc:
        back, why = None, str(exc).removeprefix(f"{tmp}")
    if back != examples:
        tmp.unlink(missing_ok=True)
        why = why if back is None else "the examples read back differ from those written"
        raise ExampleError(f"{path} was left as it was: the new file would not read back ({why.lstrip(':, ')})")
    tmp.replace(path)


def add_user_example(query: str, plan_text: str, user_file: Path | None = None) -> Example:
    """Validate and save an example to the user's file; the same request replaces its old plan."""
    path = user_file or user_examples_file()
    example = make_example(query, plan_text, "user")
    existing = read_examples(path, "user") if path.exists() else []
    kept = [e for e in existing if e.query.casefold() != example.query.casefold()]
    _write_user(path, kept + [example])
    return example


def remove_user_example(which: str, user_file: Path | None = None) -> Example:
    """Remove a user example by its number in the user's file (1-based) or its exact request."""
    path = user_file or user_examples_file()
    existing = read_examples(path, "user") if path.exists() else []
    if which.strip().isdigit():
        index = int(which) - 1
        if not 0 <= index < len(existing):
            raise ExampleError(f"no user example number {which}; {path} has {len(existing)}")
    else:
        matches = [i for i, e in enumerate(existing) if e.query.casefold() == " ".join(which.split()).casefold()]
        if not matches:
            raise ExampleError(f"no user example with that request in {path}")
        index = matches[0]
    removed = existing.pop(index)
    _write_user(path, existing)
    return removed


def read_jsonl_examples(path: Path, source: str = "user") -> tuple[list[Example], list[tuple[int, str]]]:
    """The valid {query, plan} lines of a JSONL file, and (line, reason) for the others.

    Extra keys are ignored, so a data file such as the TinyAgent plans can be read as it is.
    """
    try:  # at most 64 MiB of UTF-8; "-" is a file here, not standard input
        text = read_limited(str(path), dash_is_stdin=False)
    except InputError as exc:
        raise ExampleError(str(exc)) from None
    good: list[Example] = []
    bad: list[tuple[int, str]] = []
    for number, line in jsonl_lines(text):
        try:
            record = read_record(line)
        except JsonlError as exc:
            bad.append((number, str(exc)))
            continue
        try:
            good.append(make_example(record.get("query"), record.get("plan"), source))
        except ExampleError as exc:
            bad.append((number, str(exc)))
    return good, bad


def import_user_examples(examples: Iterable[Example], user_file: Path | None = None) -> int:
    """Add examples to the user's file in one write; a request already there gets the new plan."""
    path = user_file or user_examples_file()
    existing = read_examples(path, "user") if path.exists() else []
    incoming: dict[str, Example] = {}
    for e in examples:
        incoming[e.query.casefold()] = e
    kept = [e for e in existing if e.query.casefold() not in incoming]
    _write_user(path, kept + list(incoming.values()))
    return len(incoming)
