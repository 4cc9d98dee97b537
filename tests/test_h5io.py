"""Atomic outputs: a failure or a kill never leaves a partial file under the final name."""
from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from pipeline.h5io import atomic_h5, atomic_path, is_complete_h5, remove_stale_temps, write_json_atomic
from tests.conftest import REPO_ROOT


def test_atomic_h5_commits_complete_file(tmp_path):
    out = tmp_path / "a.h5"
    with atomic_h5(out, backbone="i3d") as handle:
        handle["x"] = np.arange(3)
        assert not out.exists()
    assert is_complete_h5(out)
    with h5py.File(out) as handle:
        assert handle.attrs["backbone"] == "i3d"
        assert list(handle["x"][:]) == [0, 1, 2]
    assert list(tmp_path.iterdir()) == [out]


def test_exception_leaves_previous_file_untouched(tmp_path):
    out = tmp_path / "result.json"
    write_json_atomic(out, {"v": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(out) as tmp:
            tmp.write_text("partial")
            raise RuntimeError("crash")
    assert out.read_text().strip().startswith("{")
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_sigkill_mid_write_leaves_no_final_file(tmp_path):
    out = tmp_path / "big.h5"
    script = textwrap.dedent(
        f"""
        import sys, time, numpy as np
        sys.path.insert(0, {str(REPO_ROOT)!r})
        from pipeline.h5io import atomic_h5
        with atomic_h5({str(out)!r}) as h:
            h["x"] = np.zeros(10)
            print("writing", flush=True)
            time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not out.exists()
    assert remove_stale_temps(out) == 1
    assert list(tmp_path.iterdir()) == []


def test_sigterm_cleans_temp_file(tmp_path):
    out = tmp_path / "c.h5"
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(REPO_ROOT)!r})
        from pipeline.h5io import atomic_h5, exit_cleanly_on_sigterm
        exit_cleanly_on_sigterm()
        with atomic_h5({str(out)!r}) as h:
            print("writing", flush=True)
            time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []
