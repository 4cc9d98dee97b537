"""The restricted MovieGraphs unpickler and the release-layout writer."""
from __future__ import annotations

import io
import os
import pickle
import pickletools
import struct
from collections import OrderedDict

import pytest

from pipeline.moviegraphs import (ClipGraph, GraphNode, MovieGraph, MovieGraphsError, dumps_moviegraphs,
                                  load_moviegraphs, write_moviegraphs_pickle)
from tests._moviegraphs_helpers import ClipSpec, build_movie


def _movies() -> dict[str, MovieGraph]:
    specs = [
        ClipSpec(0, ["Jack", "Jill"], interactions=[("Jack", "talks to", "Jill", (1.5, 4.0))],
                 relationships=[("Jack", "friend", "Jill")]),
        ClipSpec(3, ["Jack", "Jill", "Bob"], interactions=[("Bob", "greets", ["Jack", "Jill"], None)]),
    ]
    return {"tt0000001": build_movie("tt0000001", specs), "tt0000002": build_movie("tt0000002", specs[:1])}


def test_round_trip_through_the_release_layout(tmp_path):
    movies = _movies()
    path = tmp_path / "all_movies.pkl"
    write_moviegraphs_pickle(movies, path)
    assert load_moviegraphs(path) == movies
    assert [p.name for p in tmp_path.iterdir()] == ["all_movies.pkl"]   # no temp file left


def test_clip_helpers():
    clip = _movies()["tt0000001"].clip_graphs[3]
    assert clip.clip_name == "scene-004.ss-0004.es-0004"
    (greet,) = clip.nodes_of_type("interaction")
    assert clip.nodes[greet].name == "greets"
    assert [clip.nodes[n].name for n in clip.successors(greet)] == ["Jack", "Jill"]
    assert [clip.nodes[n].name for n in clip.predecessors(greet)] == ["Bob"]
    assert clip.time_span(greet) is None
    first = _movies()["tt0000001"].clip_graphs[0]
    assert first.time_span(first.nodes_of_type("interaction")[0]) == (1.5, 4.0)
    # exact type match: "action" is not found by "interaction" nor the other way round
    assert clip.nodes_of_type("action") == [] and clip.nodes_of_type("interactions") == []


class _StandIn:
    """A class standing in for GraphClasses / networkx classes in a plain unpickler."""


class _ReleaseClassesUnpickler(pickle.Unpickler):
    """What the real MovieGraphs code does: resolve the release's globals to classes (here stand-ins)."""

    def find_class(self, module, name):
        known = {("GraphClasses", "MovieGraph"), ("GraphClasses", "ClipGraph"),
                 ("networkx.classes.digraph", "DiGraph")}
        if (module, name) in known:
            return type(name, (_StandIn,), {"__module__": module})
        return super().find_class(module, name)


def test_written_pickle_has_the_release_class_layout():
    data = dumps_moviegraphs(_movies())
    pickletools.dis(data, out=io.StringIO())           # a well-formed opcode stream
    globals_named = {arg for op, arg, _ in pickletools.genops(data) if op.name == "GLOBAL"}
    assert globals_named == {"GraphClasses MovieGraph", "GraphClasses ClipGraph",
                             "networkx.classes.digraph DiGraph", "collections OrderedDict"}
    loaded = _ReleaseClassesUnpickler(io.BytesIO(data)).load()
    movie = loaded["tt0000001"]
    assert type(movie).__name__ == "MovieGraph" and movie.imdb_key == "tt0000001"
    assert isinstance(movie.clip_graphs, OrderedDict) and list(movie.clip_graphs) == [0, 3]
    clip = movie.clip_graphs[3]
    assert clip.video == {"movie": "tt0000001", "fname": ["scene-004.ss-0004.es-0004.mp4"], "scene": [4],
                          "ss": 4, "es": 4}
    assert (clip.situation, clip.scene_label, clip.description) == ("test situation", "office", "a test clip")
    assert clip.orig_graph_json["sentence_description"] == "a test clip"
    graph = clip.G
    assert type(graph).__module__ == "networkx.classes.digraph"
    assert graph.succ is graph.adj is graph.edge                     # networkx 1.x aliases
    assert graph.node[0]["type"] == "entity" and graph.node[2]["name"] == "Bob"
    greet = next(n for n, attrs in graph.node.items() if attrs["type"] == "interaction")
    assert sorted(graph.succ[greet]) == [0, 1]
    assert graph.pred[1][greet] is graph.succ[greet][1]              # shared edge data dict
    assert set(graph.pred) == set(graph.succ) == set(graph.node)


# ---- a pickle assembled opcode by opcode, as Python 2 wrote it (protocol 2, py2 str, copy_reg) ----

def _s(text: str) -> bytes:
    data = text.encode("latin1")
    return pickle.SHORT_BINSTRING + bytes([len(data)]) + data      # a Python 2 ``str``


def _i(value: int) -> bytes:
    return pickle.BININT + struct.pack("<i", value)


def _g(module: str, name: str) -> bytes:
    return pickle.GLOBAL + f"{module}\n{name}\n".encode()


def _dict(*pairs: bytes) -> bytes:
    return pickle.EMPTY_DICT + (pickle.MARK + b"".join(pairs) + pickle.SETITEMS if pairs else b"")


def _reconstruct(module: str, name: str, state: bytes) -> bytes:
    """copy_reg._reconstructor(cls, object, None) then BUILD (how protocol 0/1 store objects)."""
    return (_g("copy_reg", "_reconstructor") + _g(module, name) + _g("__builtin__", "object")
            + pickle.NONE + pickle.TUPLE3 + pickle.REDUCE + state + pickle.BUILD)


def _numpy_float(value: float) -> bytes:
    dtype = (_g("numpy", "dtype") + _s("f8") + pickle.NEWFALSE + pickle.NEWTRUE + pickle.TUPLE3
             + pickle.REDUCE + pickle.MARK + _i(3) + _s("<") + pickle.NONE + pickle.NONE + pickle.NONE
             + _i(-1) + _i(-1) + _i(0) + pickle.TUPLE + pickle.BUILD)
    return (_g("numpy.core.multiarray", "scalar") + dtype + _s(struct.pack("<d", value).decode("latin1"))
            + pickle.TUPLE2 + pickle.REDUCE)


def _hand_built_release_pickle() -> bytes:
    node_attrs = _dict(
        _i(0) + _dict(_s("name") + _s("Jack"), _s("type") + _s("entity"), _s("origtext") + _s("Jack"),
                      _s("node_id") + _i(0), _s("pos") + _i(10) + _i(20) + pickle.TUPLE2),
        _i(1) + _dict(_s("name") + _s("hugs"), _s("type") + _s("interaction")),
        _i(2) + _dict(_s("name") + _s("Jill"), _s("type") + _s("entity")),
        _i(3) + _dict(_s("name") + _s("0:04.5-0:06"), _s("type") + _s("time"),
                      _s("start") + _numpy_float(4.5), _s("end") + _i(6)),
    )
    succ = _dict(_i(0) + _dict(_i(1) + _dict()), _i(1) + _dict(_i(2) + _dict(), _i(3) + _dict()),
                 _i(2) + _dict(), _i(3) + _dict())
    graph_state = _dict(
        _s("graph") + _dict(), _s("node") + node_attrs, _s("adj") + succ + pickle.BINPUT + bytes([7]),
        _s("pred") + _dict(), _s("succ") + pickle.BINGET + bytes([7]), _s("edge") + pickle.BINGET + bytes([7]),
        _s("node_dict_factory") + _g("__builtin__", "dict"),
    )
    video = _dict(_s("movie") + _s("tt0073486"),
                  _s("fname") + pickle.EMPTY_LIST + pickle.MARK + _s("scene-014.ss-0065.es-0068.mp4") + pickle.APPENDS,
                  _s("scene") + pickle.EMPTY_LIST + pickle.MARK + _i(14) + pickle.APPENDS,
                  _s("ss") + _i(65), _s("es") + _i(68))
    clip = _reconstruct("GraphClasses", "ClipGraph", _dict(
        _s("situation") + _s("therapy"), _s("scene_label") + _s("ward"), _s("description") + _s("d"),
        _s("video") + video, _s("G") + _reconstruct("networkx.classes.digraph", "DiGraph", graph_state)))
    # Python 2 OrderedDict.__reduce__: (OrderedDict, ([[key, value], ...],))
    clip_graphs = (_g("collections", "OrderedDict") + pickle.EMPTY_LIST + pickle.MARK + pickle.EMPTY_LIST
                   + pickle.MARK + _i(13) + clip + pickle.APPENDS + pickle.APPENDS + pickle.TUPLE1 + pickle.REDUCE)
    movie = _reconstruct("GraphClasses", "MovieGraph", _dict(
        _s("imdb_key") + _s("tt0073486"), _s("clip_graphs") + clip_graphs,
        _s("castlist") + pickle.EMPTY_LIST + pickle.MARK
        + _dict(_s("chid") + _s("ch0000001"), _s("name") + _s("Jack"), _s("importance") + _i(1))
        + pickle.APPENDS))
    return pickle.PROTO + bytes([2]) + _dict(_s("tt0073486") + movie) + pickle.STOP


def test_reads_a_hand_built_python2_style_pickle(tmp_path):
    data = _hand_built_release_pickle()
    pickletools.dis(data, out=io.StringIO())
    path = tmp_path / "2017-11-02-51-7637_py3.pkl"
    path.write_bytes(data)
    (movie,) = load_moviegraphs(path).values()
    assert movie.imdb_key == "tt0073486"
    assert movie.castlist == [{"chid": "ch0000001", "name": "Jack", "importance": 1}]
    clip = movie.clip_graphs[13]
    assert clip.clip_name == "scene-014.ss-0065.es-0068" and (clip.ss, clip.es, clip.scenes) == (65, 68, [14])
    assert clip.nodes[0] == GraphNode(0, "entity", "Jack", {"origtext": "Jack", "node_id": 0, "pos": (10, 20)})
    assert clip.edges == [(0, 1), (1, 2), (1, 3)]
    assert clip.time_span(1) == (4.5, 6.0)                 # numpy float64 scalar decoded
    assert isinstance(clip.nodes[3].attrs["start"], float)


# ---- refusals -------------------------------------------------------------------------------

class _Evil:
    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return self.func, (self.arg,)


@pytest.mark.parametrize("make_payload, refused", [
    (lambda marker: _Evil(os.system, f"touch {marker}"), "system"),
    (lambda marker: _Evil(eval, f"open({str(marker)!r}, 'w')"), "builtins.eval"),
    # hidden inside an otherwise valid node attribute
    (lambda marker: {"tt1": [1, {"pos": _Evil(exec, f"open({str(marker)!r}, 'w')")}]}, "builtins.exec"),
])
@pytest.mark.parametrize("protocol", [2, 4])   # protocol 2 names builtins as __builtin__
def test_refuses_globals_outside_the_release_layout(tmp_path, make_payload, refused, protocol):
    marker = tmp_path / "executed"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(make_payload(marker), protocol=protocol))
    if protocol == 2:
        refused = refused.replace("builtins.", "__builtin__.")
    with pytest.raises(MovieGraphsError, match=refused) as info:
        load_moviegraphs(path)
    assert str(path) in str(info.value)
    assert not marker.exists()


def test_refuses_reconstructor_of_a_real_class(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.PROTO + bytes([2]) + _reconstruct("subprocess", "Popen", _dict()) + pickle.STOP)
    with pytest.raises(MovieGraphsError, match="subprocess.Popen"):
        load_moviegraphs(path)


@pytest.mark.parametrize("data, message", [
    (None, "not found"),
    (b"not a pickle", "not a readable annotation pickle"),
    (pickle.dumps([1, 2]), "expected a dict"),
    (pickle.dumps({"tt1": {"clip_graphs": {}}}), "expected a MovieGraph object"),
])
def test_malformed_pickles_name_the_file(tmp_path, data, message):
    path = tmp_path / "bad.pkl"
    if data is not None:
        path.write_bytes(data)
    with pytest.raises(MovieGraphsError, match=message) as info:
        load_moviegraphs(path)
    assert str(path) in str(info.value)


def test_clip_graph_without_graph_is_reported(tmp_path):
    clip = _reconstruct("GraphClasses", "ClipGraph", _dict(_s("video") + _dict()))
    movie = _reconstruct("GraphClasses", "MovieGraph", _dict(
        _s("clip_graphs") + _dict(_i(5) + clip)))
    path = tmp_path / "bad.pkl"
    path.write_bytes(pickle.PROTO + bytes([2]) + _dict(_s("tt9") + movie) + pickle.STOP)
    with pytest.raises(MovieGraphsError, match="movie tt9 clip graph 5: missing attribute 'G'"):
        load_moviegraphs(path)


def test_writer_rejects_values_it_cannot_represent(tmp_path):
    movies = _movies()
    clip: ClipGraph = movies["tt0000001"].clip_graphs[0]
    clip.nodes[0].attrs["weird"] = object()
    with pytest.raises(TypeError, match="cannot write object"):
        write_moviegraphs_pickle(movies, tmp_path / "x.pkl")
    assert not (tmp_path / "x.pkl").exists()
