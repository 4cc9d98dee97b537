"""The MovieGraphs annotation pickle, read and written without the MovieGraphs code or networkx.

The release pickle (``py3loader/2017-11-02-51-7637_py3.pkl``, June-2025 ``py3loader_new/all_movies.pkl``)
is a dict ``imdb_key -> GraphClasses.MovieGraph``; each movie holds ``clip_graphs`` (an OrderedDict
``sid -> GraphClasses.ClipGraph``) whose ``G`` is a networkx 1.x ``DiGraph`` (node attributes in
``G.node``, successors in ``G.succ``/``G.adj``). Unpickling it normally imports and runs that code.

:func:`load_moviegraphs` uses :class:`RestrictedUnpickler`, whose ``find_class`` admits only a fixed
list of globals and maps each of them to something inert: the MovieGraphs and networkx classes to
placeholder classes that only record their pickled state, a few builtins and ``OrderedDict`` to
themselves, numpy scalar/array reconstruction to placeholders decoded later with ``np.frombuffer``.
Any other global (``os.system``, ``builtins.eval``, ...) stops the load before anything runs. The
recorded state is then converted into the plain dataclasses :class:`MovieGraph`, :class:`ClipGraph`
and :class:`GraphNode`.

:func:`write_moviegraphs_pickle` writes the same class layout back (protocol 2, the opcodes
emitted one by one, so no class needs to be importable) for tests and the demo dataset.
"""
from __future__ import annotations

import functools
import io
import pickle
import re
import struct
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Iterable

import numpy as np

from pipeline.dataset import DatasetError, check_name
from pipeline.h5io import atomic_path


class MovieGraphsError(DatasetError):
    """The annotation pickle is missing, malformed, or names a global that is not admitted."""


# ------------------------------------------------------------------------------------------------
# Plain dataclasses
# ------------------------------------------------------------------------------------------------

@dataclass
class GraphNode:
    """One node of a clip graph: id, type (``entity``, ``interaction``, ``time``, ...), name, rest.

    ``attrs`` holds every other node attribute of the release (``origtext``, ``pos``, ``start``/``end``
    of time nodes, ``subtype`` of attributes, ``node_id`` (castlist index) and ``chid`` of entities).
    """

    node_id: int
    type: str
    name: str
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class ClipGraph:
    """The graph of one clip (``G`` of the release flattened into nodes and directed edges)."""

    movie: str
    fnames: list[str]
    scenes: list[int]
    ss: int
    es: int
    situation: str
    scene_label: str
    description: str
    nodes: dict[int, GraphNode]
    edges: list[tuple[int, int]]

    @property
    def clip_name(self) -> str:
        """The clip's file name without extension (``scene-004.ss-0005.es-0005``)."""
        return Path(self.fnames[0]).stem if self.fnames else ""

    def nodes_of_type(self, node_type: str) -> list[int]:
        """Ids of the nodes whose type is exactly ``node_type`` (not LIReC's substring test)."""
        return [n for n, node in self.nodes.items() if node.type == node_type]

    def successors(self, node_id: int) -> list[int]:
        return [v for u, v in self.edges if u == node_id]

    def predecessors(self, node_id: int) -> list[int]:
        return [u for u, v in self.edges if v == node_id]

    def has_edge(self, source: int, target: int) -> bool:
        return (source, target) in self.edges

    def time_span(self, interaction_node: int) -> tuple[float, float] | None:
        """``(start, end)`` clip-relative seconds of the first ``time`` successor of a node (LIReC's
        ``_add_time``: first neighbour of type time), ``None`` when it has none with start and end."""
        for neighbour in self.successors(interaction_node):
            node = self.nodes[neighbour]
            if node.type == "time" and "start" in node.attrs and "end" in node.attrs:
                return float(node.attrs["start"]), float(node.attrs["end"])
        return None


@dataclass
class MovieGraph:
    """All clip graphs of one movie, keyed by the release's scene ids (``sid``)."""

    imdb_key: str
    castlist: list[dict[str, Any]]
    clip_graphs: dict[int, ClipGraph]


# ------------------------------------------------------------------------------------------------
# Restricted unpickling
# ------------------------------------------------------------------------------------------------

class _Refused(Exception):
    """A pickle names a global that is not admitted (wrapped into MovieGraphsError by the loader)."""


class _PickledObject:
    """Inert stand-in for an instance of an admitted class: records constructor args and state."""

    pickled_global: ClassVar[str] = ""
    kind: ClassVar[str] = ""

    def __new__(cls, *args: Any, **kwargs: Any) -> "_PickledObject":
        instance = object.__new__(cls)
        instance.args = args
        instance.state = None
        return instance

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<pickled {self.pickled_global}>"


@functools.lru_cache(maxsize=None)
def _placeholder_class(kind: str, pickled_global: str) -> type[_PickledObject]:
    """One placeholder class per admitted global (recorded as ``kind`` and ``pickled_global``)."""
    return type(f"Pickled{kind}", (_PickledObject,), {"kind": kind, "pickled_global": pickled_global})


_GRAPH_CLASS_MODULES = ("GraphClasses", "py3loader.GraphClasses", "py3loader_new.GraphClasses", "__main__")
_GRAPH_CLASS_NAMES = ("MovieGraph", "ClipGraph")
_NETWORKX_CLASSES = {"networkx.classes.digraph": "DiGraph", "networkx.classes.graph": "Graph"}
# The June-2025 release vendors networkx 1.10 as ``nx_code`` (module path unknown: any package path
# with an ``nx_code`` component whose last part is ``digraph``/``graph`` is admitted).
_NX_CODE_MODULE = re.compile(r"^(?:\w+\.)*nx_code(?:\.\w+)*\.(?:digraph|graph)$")
_SAFE_BUILTINS = {
    "object": object, "set": set, "frozenset": frozenset, "dict": dict, "list": list, "tuple": tuple,
    "bytearray": bytearray, "bytes": bytes, "complex": complex, "int": int, "float": float,
    "str": str, "bool": bool, "unicode": str, "long": int, "basestring": str,
}
_NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")


def _reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """``copyreg._reconstructor`` restricted to placeholder classes on ``object``."""
    if not (isinstance(cls, type) and issubclass(cls, _PickledObject)) or base is not object:
        raise _Refused(f"copyreg._reconstructor of {cls!r} on {base!r}")
    return cls.__new__(cls)


def _newobj(cls: Any, *args: Any) -> Any:
    """``copyreg.__newobj__`` restricted to placeholder classes."""
    if not (isinstance(cls, type) and issubclass(cls, _PickledObject)):
        raise _Refused(f"copyreg.__newobj__ of {cls!r}")
    return cls.__new__(cls, *args)


def _plain_defaultdict(default_factory: Any = None, *args: Any) -> dict:
    """``collections.defaultdict`` loaded as a plain dict (its factory is never called)."""
    return dict(*args)


def _codecs_encode(text: str, encoding: str = "utf-8") -> bytes:
    """``_codecs.encode`` as Python 3 pickles ``bytes`` in protocol 2 (encodings fixed to text ones)."""
    if encoding not in ("latin1", "latin-1", "utf-8", "utf8", "ascii"):
        raise _Refused(f"_codecs.encode with encoding {encoding!r}")
    return text.encode(encoding)


_PickledNumpyScalar = _placeholder_class("NumpyScalar", "numpy.core.multiarray.scalar")
_PickledNumpyArray = _placeholder_class("NumpyArray", "numpy.core.multiarray._reconstruct")
_PickledNumpyDtype = _placeholder_class("NumpyDtype", "numpy.dtype")


def _admitted_global(module: str, name: str) -> Any:
    """What an admitted global is mapped to; raises :class:`_Refused` for every other global."""
    if module in _GRAPH_CLASS_MODULES and name in _GRAPH_CLASS_NAMES:
        return _placeholder_class(name, f"{module}.{name}")
    if (_NETWORKX_CLASSES.get(module) == name
            or (_NX_CODE_MODULE.match(module) and name in ("DiGraph", "Graph"))):
        return _placeholder_class(name, f"{module}.{name}")
    if module == "collections" and name == "OrderedDict":
        return OrderedDict
    if module == "collections" and name == "defaultdict":
        return _plain_defaultdict
    if module in ("copy_reg", "copyreg") and name == "_reconstructor":
        return _reconstructor
    if module in ("copy_reg", "copyreg") and name == "__newobj__":
        return _newobj
    if module in ("__builtin__", "builtins") and name in _SAFE_BUILTINS:
        return _SAFE_BUILTINS[name]
    if module == "_codecs" and name == "encode":
        return _codecs_encode
    if module in _NUMPY_MODULES and name == "scalar":
        return _PickledNumpyScalar
    if module in _NUMPY_MODULES and name == "_reconstruct":
        return _PickledNumpyArray
    if module == "numpy" and name == "ndarray":
        return _PickledNumpyArray
    if module == "numpy" and name == "dtype":
        return _PickledNumpyDtype
    raise _Refused(f"{module}.{name}")


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that admits only the globals of the MovieGraphs release (see module docstring)."""

    def find_class(self, module: str, name: str) -> Any:
        return _admitted_global(module, name)


def _unpickle(path: Path) -> Any:
    try:
        with open(path, "rb") as handle:
            return RestrictedUnpickler(handle, encoding="latin1").load()
    except FileNotFoundError:
        raise MovieGraphsError(f"{path}: annotation pickle not found") from None
    except _Refused as refused:
        raise MovieGraphsError(f"{path}: refused to load global {refused} (not part of the "
                               "MovieGraphs release layout; nothing was executed)") from None
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a malformed file
        raise MovieGraphsError(f"{path}: not a readable annotation pickle "
                               f"({type(exc).__name__}: {exc})") from None


# ------------------------------------------------------------------------------------------------
# Conversion of the recorded state into dataclasses
# ------------------------------------------------------------------------------------------------

def _numpy_dtype(placeholder: _PickledObject) -> np.dtype:
    descr = placeholder.args[0]
    if not isinstance(descr, str) or not re.fullmatch(r"[a-zA-Z]\d*", descr):
        raise ValueError(f"unsupported numpy dtype {descr!r}")
    dtype = np.dtype(descr)
    state = placeholder.state
    if isinstance(state, tuple) and len(state) > 1 and state[1] in ("<", ">"):
        dtype = dtype.newbyteorder(state[1])
    return dtype


def _as_bytes(data: Any) -> bytes:
    return data.encode("latin1") if isinstance(data, str) else bytes(data)


def _plain(value: Any, where: str) -> Any:
    """Convert recorded values into plain Python values (numpy scalars/arrays decoded, dicts kept)."""
    if isinstance(value, _PickledObject):
        if value.kind == "NumpyScalar":
            dtype, data = value.args
            if not isinstance(dtype, _PickledObject):
                raise ValueError(f"{where}: malformed numpy scalar")
            return np.frombuffer(_as_bytes(data), dtype=_numpy_dtype(dtype), count=1)[0].item()
        if value.kind == "NumpyArray":
            _version, shape, dtype, fortran, data = value.state
            if isinstance(data, list):   # object arrays carry their items
                return [_plain(item, where) for item in data]
            array = np.frombuffer(_as_bytes(data), dtype=_numpy_dtype(dtype))
            return array.reshape(shape, order="F" if fortran else "C").tolist()
        raise ValueError(f"{where}: unexpected {value.pickled_global} object inside a value")
    if isinstance(value, dict):
        return {_plain(k, where): _plain(v, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, where) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v, where) for v in value)
    if isinstance(value, (set, frozenset)):
        return type(value)(_plain(v, where) for v in value)
    return value


def _state_dict(obj: Any, kind: str, where: str) -> dict[str, Any]:
    if not isinstance(obj, _PickledObject) or obj.kind != kind:
        raise ValueError(f"{where}: expected a {kind} object, found {type(obj).__name__}")
    state = obj.state
    if isinstance(state, tuple) and len(state) == 2 and isinstance(state[0], dict):
        state = state[0]     # (instance dict, slots dict)
    if not isinstance(state, dict):
        raise ValueError(f"{where}: {kind} object without attribute state")
    return state


def _require(state: dict[str, Any], key: str, where: str) -> Any:
    if key not in state:
        raise ValueError(f"{where}: missing attribute {key!r}")
    return state[key]


def _convert_graph(graph: Any, where: str) -> tuple[dict[int, GraphNode], list[tuple[int, int]]]:
    if not isinstance(graph, _PickledObject) or graph.kind not in ("DiGraph", "Graph"):
        raise ValueError(f"{where}: G is not a networkx graph")
    state = _state_dict(graph, graph.kind, where)
    node_attrs = state.get("node", state.get("_node"))        # networkx 1.x / 2.x attribute names
    successors = state.get("succ", state.get("adj", state.get("_succ", state.get("_adj"))))
    if not isinstance(node_attrs, dict) or not isinstance(successors, dict):
        raise ValueError(f"{where}: networkx graph without node/adjacency dicts")
    nodes: dict[int, GraphNode] = {}
    for node_id, attrs in node_attrs.items():
        if not isinstance(node_id, int) or isinstance(node_id, bool):
            raise ValueError(f"{where}: node id {node_id!r} is not an integer")
        attrs = _plain(attrs, f"{where} node {node_id}")
        if not isinstance(attrs, dict) or "type" not in attrs or "name" not in attrs:
            raise ValueError(f"{where}: node {node_id} has no 'type'/'name' attribute")
        rest = {k: v for k, v in attrs.items() if k not in ("type", "name")}
        nodes[node_id] = GraphNode(node_id=node_id, type=str(attrs["type"]), name=str(attrs["name"]),
                                   attrs=rest)
    edges = []
    for source, targets in successors.items():
        for target in targets:
            if source not in nodes or target not in nodes:
                raise ValueError(f"{where}: edge {source} -> {target} names an unknown node")
            edges.append((source, target))   # an undirected Graph lists each edge both ways
    return nodes, edges


def _convert_clip(clip: Any, where: str) -> ClipGraph:
    state = _state_dict(clip, "ClipGraph", where)
    video = _plain(_require(state, "video", where), where)
    if not isinstance(video, dict):
        raise ValueError(f"{where}: 'video' is not a dict")
    fnames = video.get("fname", [])
    fnames = [fnames] if isinstance(fnames, str) else list(fnames)
    scenes = video.get("scene", [])
    scenes = [scenes] if isinstance(scenes, int) else list(scenes)
    nodes, edges = _convert_graph(_require(state, "G", where), where)
    return ClipGraph(movie=str(video.get("movie", "")), fnames=[str(f) for f in fnames],
                     scenes=[int(s) for s in scenes], ss=int(video.get("ss", -1)),
                     es=int(video.get("es", -1)), situation=str(state.get("situation") or ""),
                     scene_label=str(state.get("scene_label") or ""),
                     description=str(state.get("description") or ""), nodes=nodes, edges=edges)


def _convert_movie(key: str, movie: Any) -> MovieGraph:
    where = f"movie {key}"
    state = _state_dict(movie, "MovieGraph", where)
    clip_graphs = _require(state, "clip_graphs", where)
    if not isinstance(clip_graphs, dict):
        raise ValueError(f"{where}: clip_graphs is not a dict")
    castlist = _plain(state.get("castlist", []), where)
    if not isinstance(castlist, list):
        raise ValueError(f"{where}: castlist is not a list")
    clips = {int(sid): _convert_clip(clip, f"{where} clip graph {sid}") for sid, clip in clip_graphs.items()}
    check_name(key, "movie key", "the annotation pickle")
    for sid, clip in clips.items():
        check_name(clip.clip_name, f"clip name (from video fname {clip.fnames[:1]})", f"{where} clip graph {sid}")
    return MovieGraph(imdb_key=str(state.get("imdb_key", key)), castlist=castlist, clip_graphs=clips)


def load_moviegraphs(path: str | Path) -> dict[str, MovieGraph]:
    """Read the MovieGraphs annotation pickle into :class:`MovieGraph` dataclasses (never runs code).

    Raises :class:`MovieGraphsError` naming the file for a missing or malformed pickle and for any
    global outside the release's class layout (naming the refused global).
    """
    path = Path(path)
    payload = _unpickle(path)
    if not isinstance(payload, dict):
        raise MovieGraphsError(f"{path}: expected a dict imdb_key -> MovieGraph, found {type(payload).__name__}")
    movies = {}
    for key, movie in payload.items():
        try:
            movies[str(key)] = _convert_movie(str(key), movie)
        except (ValueError, TypeError, KeyError) as exc:   # DatasetError of a name included
            raise MovieGraphsError(f"{path}: {exc}") from None
    return movies


# ------------------------------------------------------------------------------------------------
# Writing the release layout
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _ReleaseObject:
    """An instance of class ``module.name`` with attribute dict ``state`` (pickled NEWOBJ + BUILD)."""

    module: str
    name: str
    state: dict[str, Any]


class _ReleasePickleWriter:
    """Emits protocol-2 pickle opcodes for plain values and :class:`_ReleaseObject` instances.

    Classes are written as ``GLOBAL module name`` without being imported (they need not exist
    here); shared dicts/lists (networkx's ``adj is succ is edge``) are memoised once and referenced.
    """

    def __init__(self) -> None:
        self._out = io.BytesIO()
        self._memo: dict[int, int] = {}
        self._keep_alive: list[Any] = []
        self._globals: dict[tuple[str, str], int] = {}

    def dumps(self, value: Any) -> bytes:
        self._out.write(pickle.PROTO + bytes([2]))
        self._save(value)
        self._out.write(pickle.STOP)
        return self._out.getvalue()

    # memo -------------------------------------------------------------------------------------
    def _put(self, key: Any, index_owner: dict) -> None:
        index = len(self._memo) + len(self._globals)
        index_owner[key] = index
        self._write_put(index)

    def _write_put(self, index: int) -> None:
        if index < 256:
            self._out.write(pickle.BINPUT + bytes([index]))
        else:
            self._out.write(pickle.LONG_BINPUT + struct.pack("<I", index))

    def _write_get(self, index: int) -> None:
        if index < 256:
            self._out.write(pickle.BINGET + bytes([index]))
        else:
            self._out.write(pickle.LONG_BINGET + struct.pack("<I", index))

    def _memoised(self, value: Any) -> bool:
        index = self._memo.get(id(value))
        if index is None:
            return False
        self._write_get(index)
        return True

    def _remember(self, value: Any) -> None:
        self._keep_alive.append(value)
        self._put(id(value), self._memo)

    # values -----------------------------------------------------------------------------------
    def _save(self, value: Any) -> None:
        write = self._out.write
        if value is None:
            write(pickle.NONE)
        elif value is True:
            write(pickle.NEWTRUE)
        elif value is False:
            write(pickle.NEWFALSE)
        elif isinstance(value, (int, np.integer)):
            self._save_int(int(value))
        elif isinstance(value, (float, np.floating)):
            write(pickle.BINFLOAT + struct.pack(">d", float(value)))
        elif isinstance(value, str):
            data = value.encode("utf-8", "surrogatepass")
            write(pickle.BINUNICODE + struct.pack("<I", len(data)) + data)
        elif isinstance(value, tuple):
            self._save_tuple(value)
        elif isinstance(value, list):
            self._save_list(value)
        elif isinstance(value, OrderedDict):
            self._save_ordered_dict(value)
        elif isinstance(value, dict):
            self._save_dict(value)
        elif isinstance(value, _ReleaseObject):
            self._save_object(value)
        else:
            raise TypeError(f"cannot write {type(value).__name__} values into the release pickle")

    def _save_int(self, value: int) -> None:
        if 0 <= value < 256:
            self._out.write(pickle.BININT1 + bytes([value]))
        elif 0 <= value < 65536:
            self._out.write(pickle.BININT2 + struct.pack("<H", value))
        elif -(2 ** 31) <= value < 2 ** 31:
            self._out.write(pickle.BININT + struct.pack("<i", value))
        else:
            data = pickle.encode_long(value)
            self._out.write(pickle.LONG1 + bytes([len(data)]) + data)

    def _save_tuple(self, value: tuple) -> None:
        short = {0: pickle.EMPTY_TUPLE, 1: pickle.TUPLE1, 2: pickle.TUPLE2, 3: pickle.TUPLE3}
        if len(value) in short:
            for item in value:
                self._save(item)
            self._out.write(short[len(value)])
            return
        self._out.write(pickle.MARK)
        for item in value:
            self._save(item)
        self._out.write(pickle.TUPLE)

    def _save_list(self, value: list) -> None:
        if self._memoised(value):
            return
        self._out.write(pickle.EMPTY_LIST)
        self._remember(value)
        if value:
            self._out.write(pickle.MARK)
            for item in value:
                self._save(item)
            self._out.write(pickle.APPENDS)

    def _save_items(self, items: Iterable[tuple[Any, Any]]) -> None:
        items = list(items)
        if items:
            self._out.write(pickle.MARK)
            for key, item in items:
                self._save(key)
                self._save(item)
            self._out.write(pickle.SETITEMS)

    def _save_dict(self, value: dict) -> None:
        if self._memoised(value):
            return
        self._out.write(pickle.EMPTY_DICT)
        self._remember(value)
        self._save_items(value.items())

    def _save_global(self, module: str, name: str) -> None:
        index = self._globals.get((module, name))
        if index is not None:
            self._write_get(index)
            return
        self._out.write(pickle.GLOBAL + f"{module}\n{name}\n".encode("ascii"))
        self._put((module, name), self._globals)

    def _save_ordered_dict(self, value: OrderedDict) -> None:
        # As CPython pickles it: OrderedDict() by REDUCE, then the items by SETITEMS.
        if self._memoised(value):
            return
        self._save_global("collections", "OrderedDict")
        self._out.write(pickle.EMPTY_TUPLE + pickle.REDUCE)
        self._remember(value)
        self._save_items(value.items())

    def _save_object(self, value: _ReleaseObject) -> None:
        # As a new-style class instance pickles in protocol 2: cls, (), NEWOBJ, state, BUILD.
        if self._memoised(value):
            return
        self._save_global(value.module, value.name)
        self._out.write(pickle.EMPTY_TUPLE + pickle.NEWOBJ)
        self._remember(value)
        self._save_dict(value.state)
        self._out.write(pickle.BUILD)


def _release_digraph(clip: ClipGraph) -> _ReleaseObject:
    """networkx 1.x DiGraph instance state: graph, node, adj (= succ = edge), pred."""
    node = {n: {"name": g.name, "type": g.type, **g.attrs} for n, g in clip.nodes.items()}
    succ: dict[int, dict[int, dict]] = {n: {} for n in clip.nodes}
    pred: dict[int, dict[int, dict]] = {n: {} for n in clip.nodes}
    for source, target in clip.edges:
        edge_data: dict = {}          # one dict shared by succ and pred, as networkx does
        succ[source][target] = edge_data
        pred[target][source] = edge_data
    return _ReleaseObject("networkx.classes.digraph", "DiGraph",
                          {"graph": {}, "node": node, "adj": succ, "pred": pred, "succ": succ, "edge": succ})


def _original_json(clip: ClipGraph) -> dict[str, Any]:
    """The annotation-tool JSON a ClipGraph was built from (``orig_graph_json``), reconstructed."""
    json_nodes = []
    for n, node in clip.nodes.items():
        if node.type in ("situation", "scene"):
            continue                   # made from the 'situation'/'scene' fields, not from nodes
        entry: dict[str, Any] = {"id": n, "name": node.attrs.get("origtext", node.name), "type": node.type}
        pos = node.attrs.get("pos")
        if isinstance(pos, (tuple, list)) and len(pos) == 2:
            entry["x"], entry["y"] = pos
        if node.type == "entity" and "node_id" in node.attrs:
            entry["node_id"] = node.attrs["node_id"]
        if node.type == "time" and "start" in node.attrs and "end" in node.attrs:
            entry["t_start"], entry["t_end"] = node.attrs["start"], node.attrs["end"]
        json_nodes.append(entry)
    return {
        "situation": clip.situation, "scene": clip.scene_label, "sentence_description": clip.description,
        "video": f"videos/{clip.movie}/{clip.fnames[0] if clip.fnames else ''}",
        "nodes": json_nodes,
        "edges": [{"source": s, "target": t} for s, t in clip.edges],
    }


def _release_clip(clip: ClipGraph) -> _ReleaseObject:
    video = {"movie": clip.movie, "fname": list(clip.fnames), "scene": list(clip.scenes),
             "ss": clip.ss, "es": clip.es}
    return _ReleaseObject("GraphClasses", "ClipGraph", {
        "orig_graph_json": _original_json(clip), "situation": clip.situation,
        "scene_label": clip.scene_label, "description": clip.description, "video": video,
        "G": _release_digraph(clip),
    })


def _release_movie(movie: MovieGraph) -> _ReleaseObject:
    clips = OrderedDict((sid, _release_clip(clip)) for sid, clip in movie.clip_graphs.items())
    return _ReleaseObject("GraphClasses", "MovieGraph", {
        "imdb_key": movie.imdb_key, "castlist": [dict(c) for c in movie.castlist], "clip_graphs": clips,
    })


def dumps_moviegraphs(movies: dict[str, MovieGraph]) -> bytes:
    """The bytes of a release-layout pickle of ``movies`` (see :func:`write_moviegraphs_pickle`)."""
    payload = {key: _release_movie(movie) for key, movie in movies.items()}
    return _ReleasePickleWriter().dumps(payload)


def write_moviegraphs_pickle(movies: dict[str, MovieGraph], path: str | Path) -> None:
    """Write ``movies`` as the release does: dict imdb_key -> ``GraphClasses.MovieGraph`` whose
    ``clip_graphs`` OrderedDict holds ``GraphClasses.ClipGraph`` objects with a networkx 1.x
    ``networkx.classes.digraph.DiGraph`` ``G`` (loadable by the real MovieGraphs code with networkx
    1.x). Atomic: the file appears complete or not at all."""
    data = dumps_moviegraphs(movies)
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)


__all__ = [
    "GraphNode", "ClipGraph", "MovieGraph", "MovieGraphsError", "RestrictedUnpickler",
    "load_moviegraphs", "write_moviegraphs_pickle", "dumps_moviegraphs",
]
