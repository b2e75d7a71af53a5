"""Calibration models behind an OpenAI-compatible endpoint, against a local stub server."""

from __future__ import annotations

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest

from tests.fixtures.chat_stub import reply
from verifier.errors import UsageError


class _Stub(BaseHTTPRequestHandler):
    seen: list = []

    def log_message(self, *args):  # quiet
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        n = len(self.seen)
        self.seen.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        if n == 3:
            self.send_response(500)
            self.end_headers()
            return
        reply(self, 'The pi pulse is at {"pi_pulse_amplitude": 0.25}.' if n != 2 else "I cannot tell.")


@pytest.fixture
def stub():
    _Stub.seen = []
    srv = HTTPServer(("127.0.0.1", 0), _Stub)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"openai:http://127.0.0.1:{srv.server_address[1]}/v1#stub-vlm", _Stub.seen
    srv.shutdown()
    srv.server_close()


def test_endpoint_answers_are_scored_against_the_truth(stub, monkeypatch):
    from verifier.calib.run import run_calibration
    from verifier.cli.wiring import calibration_model_from_spec as models
    from verifier.calib.simulator import simulate

    spec, seen = stub
    monkeypatch.setenv("SOV_OPENAI_API_KEY", "k-123")
    r = run_calibration(spec, "rabi_amplitude", repeats=5, seed=2, resolve=models)
    assert len(seen) == 5 and seen[0]["path"] == "/v1/chat/completions"
    body = seen[0]["body"]
    assert body["model"] == "stub-vlm" and seen[0]["auth"] == "Bearer k-123"
    text, image = body["messages"][1]["content"]
    assert "pi-pulse amplitude" in text["text"] and "JSON" in text["text"]
    png = base64.b64decode(image["image_url"]["url"].split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    # answers 0, 1, 4 parsed (0.25); 2 unparseable; 3 an HTTP 500
    assert sorted(r.failures) == [2, 3] and "HTTP 500" in r.failures[3] and "no JSON" in r.failures[2]
    truth = simulate("rabi_amplitude", 5, seed=2).truth[:, 0]
    ok = [0, 1, 4]
    assert np.allclose(r.values[ok, 0], 0.25)
    f = r.figures["pi_pulse_amplitude"]
    assert f["failures"] == 2
    assert f["rel_error_median"] == pytest.approx(np.median(np.abs(0.25 - truth[ok]) / truth[ok]))
    assert "k-123" not in json.dumps(r.to_json())


def test_unreachable_endpoint_is_a_usage_error():
    import socket

    from verifier.calib.run import run_calibration
    from verifier.cli.wiring import calibration_model_from_spec as models

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    with pytest.raises(UsageError, match="cannot reach the endpoint"):
        run_calibration(f"openai:http://127.0.0.1:{port}/v1#m", "t1", repeats=2, resolve=models)
    with pytest.raises(UsageError, match="expected openai:http"):
        run_calibration("openai:ftp://x#m", "t1", repeats=2, resolve=models)
    with pytest.raises(UsageError, match="fit experiments only"):
        run_calibration(f"openai:http://127.0.0.1:{port}/v1#m", "readout", repeats=2, resolve=models)


def test_parse_answer():
    from adapters.openai_calibration import parse_answer

    assert parse_answer('x {"a": 1} y {"detuning_hz": 1e5, "t2_star_ns": "2000"}', ("detuning_hz", "t2_star_ns")) == [1e5, 2000.0]
    with pytest.raises(ValueError):
        parse_answer('{"detuning_hz": NaN}', ("detuning_hz",))
