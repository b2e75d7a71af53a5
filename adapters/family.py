"""Model families: one ONNX file per (distance, rounds, basis), as third-party exports ship
them, behind one ``--decoder`` value (see docs/cli.md, "Model families").

A family is named by

- a pattern with placeholders, ``models/predecoder_memory_d{d}_T{rounds}_{basis}.onnx``:
  every file whose path fits it is a member, keyed by the values in its name;
- a glob (``models/*.onnx``), a directory (its ``*.onnx`` files) or a comma-separated list
  of files (``a.onnx,b.onnx``): members keyed by their ``sov.distance`` / ``sov.rounds`` /
  ``sov.basis`` metadata.

A key the name does not give comes from the metadata; a key neither gives is a wildcard.
Name and metadata that disagree are refused when the family is loaded. :meth:`ModelFamily.for_workload`
is the member that serves a workload: exactly one, else exit 2 with one line naming the
point and what was searched. The run loop asks for it per task, so each point runs, is
fingerprinted and is stored as its member alone: a sweep of a family shares its blocks
with single-file runs of the same member.
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from verifier.errors import UsageError
from verifier.qec.decoder import fingerprint

# placeholder -> the key it fills; aliases spell the same key as vendors name their files
PLACEHOLDERS = {"d": "distance", "distance": "distance", "rounds": "rounds", "T": "rounds",
                "basis": "basis", "BASIS": "basis"}
_VALUE = {"distance": r"[0-9]+", "rounds": r"[0-9]+", "basis": r"[xXzZ]"}
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_SHOWN = 6  # member files a refusal names before "..."


@dataclass(frozen=True)
class MemberKey:
    """The points a member serves: None is any value."""

    distance: int | None = None
    rounds: int | None = None
    basis: str | None = None  # "x" or "z"

    def serves(self, workload) -> bool:
        got = (workload.distance, workload.rounds, workload.basis)
        return all(k is None or w is None or k == w
                   for k, w in zip((self.distance, self.rounds, self.basis), got))

    def to_json(self) -> dict[str, Any]:
        return {"distance": self.distance, "rounds": self.rounds, "basis": self.basis}


def point_text(workload) -> str:
    basis = workload.basis.upper() if workload.basis else "?"
    return f"(d={workload.distance}, rounds={workload.rounds}, basis {basis})"


def is_pattern(spec: str) -> bool:
    """A family named by placeholders (and no file of that very name)."""
    return bool(_PLACEHOLDER.search(spec)) and not Path(spec).is_file()


def is_family_spec(spec: str) -> bool:
    """Whether ``spec`` names a family rather than one file or a baseline."""
    if Path(spec).is_file():
        return False
    return (bool(_PLACEHOLDER.search(spec)) or Path(spec).is_dir() or "," in spec
            or any(c in spec for c in "*?["))


def _pattern_regex(pattern: str) -> tuple[str, re.Pattern[str]]:
    """The glob that lists a pattern's candidates and the regex that reads their keys.
    A placeholder repeated in the pattern must have one value (a back-reference)."""
    parts_glob, parts_re, seen = [], [], set()
    pos = 0
    for m in _PLACEHOLDER.finditer(pattern):
        literal = pattern[pos:m.start()]
        parts_glob.append(literal)
        parts_re.append(_literal_regex(literal))
        key = PLACEHOLDERS.get(m.group(1))
        if key is None:
            raise UsageError(f"--decoder {pattern}: unknown placeholder {{{m.group(1)}}}; a family pattern "
                             f"takes {', '.join('{' + p + '}' for p in PLACEHOLDERS)}")
        parts_glob.append("*")
        parts_re.append(f"(?P={key})" if key in seen else f"(?P<{key}>{_VALUE[key]})")
        seen.add(key)
        pos = m.end()
    parts_glob.append(pattern[pos:])
    parts_re.append(_literal_regex(pattern[pos:]))
    return "".join(parts_glob), re.compile("".join(parts_re))


def _literal_regex(text: str) -> str:
    """Pattern text outside placeholders: glob wildcards stay wildcards within one name."""
    return "".join("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c) for c in text)


def _name_key(m: re.Match[str]) -> dict[str, Any]:
    got = m.groupdict()
    return {"distance": int(got["distance"]) if got.get("distance") else None,
            "rounds": int(got["rounds"]) if got.get("rounds") else None,
            "basis": got["basis"].lower() if got.get("basis") else None}


def _metadata_key(decoder, path: str) -> dict[str, Any]:
    md = decoder.info.metadata
    out: dict[str, Any] = {}
    for key in ("distance", "rounds"):
        if f"sov.{key}" in md:
            try:
                out[key] = int(md[f"sov.{key}"])
            except ValueError:
                raise UsageError(f"{path}: metadata sov.{key}={md[f'sov.{key}']!r} is not an integer") from None
    if "sov.basis" in md:
        out["basis"] = md["sov.basis"].lower()
    return out


def _key(path: str, decoder, from_name: dict[str, Any]) -> MemberKey:
    """The member's key: its name's values, the rest from its metadata; both must agree."""
    from_md = _metadata_key(decoder, path)
    for k, v in from_name.items():
        if v is not None and k in from_md and from_md[k] != v:
            raise UsageError(f"{path}: its name says {k} {v} but its metadata sov.{k} says {from_md[k]}")
    merged = {k: v if v is not None else from_md.get(k) for k, v in from_name.items()}
    return MemberKey(**merged)


def _candidates(spec: str) -> tuple[str, list[tuple[str, dict[str, Any]]]]:
    """What was searched (for refusals) and the (path, key from its name) of each file."""
    empty = {"distance": None, "rounds": None, "basis": None}
    if _PLACEHOLDER.search(spec):
        pattern_glob, regex = _pattern_regex(spec)
        found = [(p, m) for p in sorted(glob.glob(pattern_glob)) if (m := regex.fullmatch(p)) and Path(p).is_file()]
        return f"pattern {spec}", [(p, {**empty, **_name_key(m)}) for p, m in found]
    if Path(spec).is_dir():
        files = sorted(str(p) for p in Path(spec).glob("*.onnx") if p.is_file())
        return f"directory {spec}", [(p, dict(empty)) for p in files]
    if "," in spec:
        files = [s.strip() for s in spec.split(",") if s.strip()]
        missing = [f for f in files if not Path(f).is_file()]
        if missing:
            raise UsageError(f"--decoder {spec}: model file not found: {missing[0]}")
        return f"files {spec}", [(p, dict(empty)) for p in files]
    files = sorted(p for p in glob.glob(spec) if Path(p).is_file())
    return f"glob {spec}", [(p, dict(empty)) for p in files]


def _short_name(spec: str) -> str:
    """What tables call a family: the last part of each path, as a single file is named."""
    if "," in spec:
        return ",".join(Path(s.strip()).name for s in spec.split(",") if s.strip())
    return Path(spec).name + ("/" if Path(spec).is_dir() else "")


@dataclass(frozen=True)
class Member:
    key: MemberKey
    path: str
    decoder: Any  # adapters.onnx_decoder.OnnxDecoder


@dataclass(frozen=True)
class ModelFamily:
    """A Decoder over several ONNX files, one per point; see the module docstring."""

    name: str  # as a single file's is its file name: the pattern's, the directory's, the files'
    spec: str  # the --decoder value as given
    searched: str  # "pattern ...", "directory ...": what a refusal says was searched
    members: tuple[Member, ...]

    @classmethod
    def load(cls, spec: str, make: Callable[[str], Any]) -> "ModelFamily":
        """The family named by ``spec``, each file loaded by ``make(path)`` (an OnnxDecoder,
        so the file and its contract are checked as any model's)."""
        searched, found = _candidates(spec)
        if not found:
            raise UsageError(f"--decoder {spec}: no model file matches the {searched}")
        members = []
        for path, from_name in found:
            dec = make(path)
            members.append(Member(_key(path, dec, from_name), path, dec))
        return cls(_short_name(spec), spec, searched, tuple(members))

    @property
    def model_sha256(self) -> None:
        return None  # one per member: each point records its member's

    def fingerprint_spec(self) -> dict[str, Any]:
        return {"decoder": "family", "members": [{**m.key.to_json(), "fingerprint": fingerprint(m.decoder)}
                                                 for m in self.members]}

    def for_workload(self, workload):
        """The one member that serves ``workload`` (exit 2 for none or several)."""
        found = [m for m in self.members if m.key.serves(workload)]
        if len(found) == 1:
            return found[0].decoder
        if not found:
            names = [m.path for m in self.members]
            shown = ", ".join(names[:_SHOWN]) + (", ..." if len(names) > _SHOWN else "")
            raise UsageError(f"--decoder {self.spec}: no member for {point_text(workload)}; searched the "
                             f"{self.searched}: {shown}")
        raise UsageError(f"--decoder {self.spec}: {len(found)} members for {point_text(workload)}: "
                         f"{', '.join(m.path for m in found)}; give one file per (distance, rounds, basis)")

    def check(self, workload) -> None:
        self.for_workload(workload).check(workload)

    def compile_for(self, workload):
        return self.for_workload(workload).compile_for(workload)

    def members_json(self) -> list[dict[str, Any]]:
        return [{**m.key.to_json(), "file": m.path, "sha256": m.decoder.model_sha256,
                 "fingerprint": fingerprint(m.decoder)} for m in self.members]
