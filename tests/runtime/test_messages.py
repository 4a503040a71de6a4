"""The rule for what the host accepts of a kernel's messages (kernelgym/runtime/messages.py), on
messages signed and serialised exactly as a kernel's session sends them; no kernel needed. The same
attacks through real kernels and real runs: tests/runs/test_hostile_messages.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jupyter_client.session import Session

from kernelgym.runtime.messages import MAX_DEPTH, GuardedSession, UnsafeMessage, loads, problem

KEY = b"a-kernel-key"


def wire(msg_type: str, content: bytes | dict[str, Any], *, parent: dict[str, Any] | None = None,
         metadata: bytes | None = None) -> list[bytes]:
    """The frames a kernel sends (its own session, its key): ``content`` as given, bytes included."""
    kernel = Session(key=KEY)
    msg = kernel.msg(msg_type, content={}, parent=parent or {"msg_id": "cell-1", "msg_type": "execute_request"})
    msg["content"] = content
    frames = kernel.serialize(msg)
    if metadata is not None:
        frames[-2] = metadata  # [..., delimiter, signature, header, parent, metadata, content]
        frames[frames.index(b"<IDS|MSG>") + 1] = kernel.sign(frames[-4:])
    return frames[frames.index(b"<IDS|MSG>") + 1:]


def receive(frames: list[bytes]) -> dict[str, Any]:
    return GuardedSession(key=KEY).deserialize(frames)


DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(("part", "why"), [
    (b'{"data": {"application/json": ' + DEEP + b'}, "metadata": {}}', "nested deeper than 100"),
    (b'{"data": {"application/json": ' + b"[" * 500 + b"]" * 500 + b'}, "metadata": {}}', "nested deeper than 100"),
    (b'{"data": {"application/json": {"n": 1' + b"0" * 5000 + b'}}, "metadata": {}}', "an integer of 5,001 digits"),
    (b'{"name": "stdout", "text": "\\ud800"}', "lone surrogate"),
    (b'{"name": "stdout", "text": "ok", "\\udfff": 1}', "lone surrogate"),
    (b'{"data": {"application/json": NaN}, "metadata": {}}', "NaN is not a JSON number"),
    (b'{"name": "stdout", "text": ', "not JSON"),
])
def test_hostile_parts_raise_only_unsafe_message(part: bytes, why: str) -> None:
    """Pins the hole: jupyter_client's unpacker raised RecursionError, ValueError (int digits), or
    parsed strings no UTF-8 writer accepts; the rule's parser raises only UnsafeMessage, saying why."""
    with pytest.raises(UnsafeMessage, match=why):
        loads(part)


@pytest.mark.parametrize(("msg_type", "content", "why"), [
    ("display_data", b'{"data": {"application/json": ' + DEEP + b'}, "metadata": {}}', "nested deeper than 100 levels"),
    ("execute_result", b'{"execution_count": 1, "data": {"text/plain": "x", "application/json": 1' + b"0" * 5000 + b'}, "metadata": {}}',
     "an integer of 5,001 digits"),
    ("stream", b'{"name": "stdout", "text": "\\ud800"}', "a string holds a lone surrogate"),
    ("error", b'{"ename": "E", "evalue": "\\udfff", "traceback": []}', "a string holds a lone surrogate"),
    ("stream", b'{"name": "stdout", "text": 5}', "not a valid stream output"),
    ("display_data", b'["not", "an", "object"]', "not a JSON object"),
    ("status", b"{}", "a status without an execution state"),
])
def test_a_hostile_message_becomes_a_marker_under_the_same_parent(msg_type: str, content: bytes, why: str) -> None:
    """Pins the hole: Session.deserialize raised into nbclient (the episode lost its notebook); now the
    message is a stderr stream saying what was dropped and why, attributed to the cell that sent it."""
    msg = receive(wire(msg_type, content))
    assert msg["msg_type"] == "stream" and msg["parent_header"]["msg_id"] == "cell-1"
    assert msg["content"]["name"] == "stderr"
    text = msg["content"]["text"]
    assert text.startswith(f"[kernelgym: a{'n' if msg_type[0] in 'aeiou' else ''} {msg_type} message from the kernel was dropped")
    assert why in text
    assert set(msg["content"]) == {"name", "text"}  # a marker carries no data: never an answer or evidence


def test_hostile_metadata_headers_signatures_and_replies() -> None:
    """Pins the holes around the content: a hostile metadata part, a wrong or replayed signature, and a
    hostile reply (nbclient reads its status) are received as markers or error replies, never raised."""
    frames = wire("display_data", {"data": {"text/plain": "x"}, "metadata": {}}, metadata=b'{"m": ' + DEEP + b"}")
    marked = receive(frames)
    assert "nested deeper" in marked["content"]["text"] and marked["parent_header"]["msg_id"] == "cell-1"
    frames = wire("stream", {"name": "stdout", "text": "x"}, parent={"msg_id": "cell-1", "deep": json.loads("[" * 200 + "]" * 200)})
    assert "nested deeper" in receive(frames)["content"]["text"]  # a hostile parent: a marker no cell claims
    forged = wire("stream", {"name": "stdout", "text": "x"})
    forged[0] = b"0" * 64
    assert "signature is wrong" in receive(forged)["content"]["text"]
    session, frames = GuardedSession(key=KEY), wire("stream", {"name": "stdout", "text": "x"})
    assert session.deserialize(list(frames))["content"]["text"] == "x"
    assert "already used" in session.deserialize(list(frames))["content"]["text"]
    reply = receive(wire("execute_reply", b'{"status": "ok", "n": 1' + b"0" * 5000 + b"}"))
    assert reply["msg_type"] == "execute_reply" and reply["content"]["status"] == "error"
    assert "an integer of 5,001 digits" in reply["content"]["evalue"]


HONEST = [
    ("stream", {"name": "stdout", "text": "héllo ✓ \u2028 wörld\n"}),
    ("display_data", {"data": {"text/plain": "x", "application/json": {"a": [1, 2.5, None, True, "s"], "big": 10**30}},
                      "metadata": {"isolated": True}, "transient": {"display_id": "d1"}}),
    ("execute_result", {"execution_count": 3, "data": {"text/plain": "1" * 4300}, "metadata": {}}),
    ("error", {"ename": "ValueError", "evalue": "bad", "traceback": ["\x1b[31mValueError\x1b[0m: bad"]}),
    ("status", {"execution_state": "idle"}),
    ("execute_reply", {"status": "ok", "execution_count": 3, "user_expressions": {}, "payload": []}),
]


@pytest.mark.parametrize(("msg_type", "content"), HONEST)
def test_honest_messages_are_received_exactly_as_jupyter_client_receives_them(msg_type: str, content: dict[str, Any]) -> None:
    """Honest outputs stay byte-identical: the guarded session returns what a plain Session returns."""
    frames = wire(msg_type, content)
    plain = Session(key=KEY).deserialize(list(frames))
    guarded = receive(list(frames))
    assert json.dumps(guarded, default=str, sort_keys=True) == json.dumps(plain, default=str, sort_keys=True)


def test_the_depth_check_is_iterative_and_honest_depth_passes() -> None:
    deep: Any = 1
    for _ in range(200_000):
        deep = [deep]
    assert problem(deep) == f"JSON nested deeper than {MAX_DEPTH} levels"
    ok: Any = 1
    for _ in range(MAX_DEPTH):
        ok = {"k": ok}
    assert problem(ok) is None and loads(json.dumps(ok)) == ok


def test_the_output_check_accepts_exactly_what_nbformat_accepts() -> None:
    """The guard checks outputs with nbformat's schema compiled by fastjsonschema (issue 19: nbformat's
    ``output_from_msg`` plus ``isvalid`` ran jsonschema, ~0.4 ms per output message on the run's event
    loop). Pinned against nbformat itself: for contents that are valid, invalid, missing fields or carry
    wrong types, the guard refuses an output exactly when nbformat's ``output_from_msg`` raises or its
    result is not a valid 4.5 output."""
    import random

    from nbformat.v4 import output_from_msg
    from nbformat.validator import isvalid

    from kernelgym.runtime.messages import OUTPUT_TYPES, _shape_problem

    def nbformat_refuses(msg_type: str, content: dict[str, Any]) -> bool:
        kind = "display_data" if msg_type == "update_display_data" else msg_type
        try:
            out = output_from_msg({"msg_type": kind, "content": content, "header": {"msg_type": kind}})
        except Exception:
            return True
        return not isvalid(out, ref="output", version=4, version_minor=5)

    honest = {
        "stream": {"name": "stdout", "text": "hi\n"},
        "display_data": {"data": {"text/plain": "x", "image/png": "iVBOR"}, "metadata": {}},
        "update_display_data": {"data": {"text/plain": "x"}, "metadata": {}, "transient": {"display_id": "d"}},
        "execute_result": {"data": {"text/plain": "42"}, "metadata": {}, "execution_count": 3},
        "error": {"ename": "ValueError", "evalue": "bad", "traceback": ["Traceback", "ValueError: bad"]},
    }
    values = [None, True, 0, -3, 2.5, "", "s", [], ["s"], [1], {}, {"text/plain": "y"}, {"text/plain": 1},
              {"application/json": {"a": [1]}}, {"application/geo+json": None}, {"text/html": ["a", "b"]},
              {"nomime": "x"}]
    rng = random.Random(19)
    seen = {True: 0, False: 0}
    for msg_type in sorted(OUTPUT_TYPES):
        for _ in range(400):
            content = dict(honest[msg_type])
            for _ in range(rng.randint(0, 2)):
                field = rng.choice([*content, "data", "metadata", "name", "text", "extra"])
                if rng.random() < 0.2:
                    content.pop(field, None)
                else:
                    content[field] = rng.choice(values)
            refused = nbformat_refuses(msg_type, content)
            assert (_shape_problem(msg_type, content) is not None) == refused, (msg_type, content)
            seen[refused] += 1
    assert min(seen.values()) > 200  # both verdicts were exercised
