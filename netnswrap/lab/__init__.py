"""Declarative labs: plan, apply, export and destroy a whole network from one file.

    import netnswrap as nw
    nw.plan("lab.yml")        # the command lines apply would run; [] when converged
    nw.apply("lab.yml")       # converge, in one ip -batch (undone on failure); what ran
    nw.export(["r", "h1"])    # a dict in the file's shape that builds the live lab again
    nw.destroy("lab.yml")     # delete the namespaces the file declares, nothing else

The file format is documented by ``netnswrap/data/topology.schema.json``
(:func:`schema_path`) and :mod:`netnswrap.lab.spec`; what a plan compares and
what it leaves alone, by :mod:`netnswrap.lab.plan`; what an export holds,
by :mod:`netnswrap.lab.export`.
"""
from __future__ import annotations

import json
import os
from typing import List, Optional, Tuple

from ..handle import Netns, kill_processes_in
from ..runners import Runner
from . import export as _export, live
from .plan import lines, record
from .spec import Lab, SpecError, load, rename

__all__ = ["plan", "plan_groups", "apply", "destroy", "export", "load", "rename", "dump", "schema_path",
           "Lab", "SpecError"]


def _batch(spec, runner: Optional[Runner]):
    lab = load(spec)  # every check before anything runs
    handle = Netns(runner=runner)
    batch = handle.batch()
    record(lab, live.read(handle, lab), batch)
    return batch


def plan_groups(spec, *, runner: Optional[Runner] = None) -> List[Tuple[str, List[str]]]:
    """:func:`plan`'s lines grouped by where they act: ``[("netns r", [line…]), …]``."""
    return lines(_batch(spec, runner))


def plan(spec, *, runner: Optional[Runner] = None) -> List[str]:
    """The command lines :func:`apply` would run for ``spec`` (a path to a
    YAML or JSON file, or a dict in that shape), in the order it would run
    them, grouped by namespace; ``[]`` when the host already matches. Reads
    only, one process (two with sysctls: :mod:`netnswrap.lab.live`).
    Equivalent to: ``ip -n NS -d -j -batch -`` of ``addr show`` and ``route
    show table all`` in each declared namespace that exists (and ``ip netns
    exec NS sysctl -e KEY…`` when the file declares sysctls)"""
    return [line for _, group in plan_groups(spec, runner=runner) for line in group]


def apply(spec, *, runner: Optional[Runner] = None) -> List[str]:
    """Converge the host to ``spec``: make what is missing, fix what drifted,
    leave what the file does not declare alone (see :mod:`netnswrap.lab.plan`).
    Runs as one batch — all or nothing: on a failing line what ran is undone
    and the error raised. Returns the command lines it ran (``[]``: nothing to do).
    Equivalent to: the reads of :func:`plan`, then ``ip -o -batch FILE``"""
    batch = _batch(spec, runner)
    ran = [line for _, group in lines(batch) for line in group]
    batch.run()
    return ran


def destroy(spec, *, runner: Optional[Runner] = None) -> List[str]:
    """Delete the namespaces ``spec`` declares that exist (with all they
    hold, and the processes in them killed first), nothing else; returns the
    command lines it ran.
    Equivalent to: ``ip netns pids NAME`` for each that exists (``[ -e
    /run/netns/NAME ]``, all from one ``sh``), one ``kill -KILL PID…``, then
    ``ip netns del NAME`` for those that exist, in one batch"""
    lab = load(spec)
    handle = Netns(runner=runner)
    batch = handle.batch()
    for name in kill_processes_in(handle, list(lab.namespaces)):  # no program keeps one alive
        batch.netns_del(name)
    ran = [line for _, group in lines(batch) for line in group]
    batch.run()
    return ran


def export(namespaces=None, *, runner: Optional[Runner] = None) -> dict:
    """The named namespaces ``namespaces`` (a name or a list; all named ones
    when None) as a topology dict that :func:`apply` builds again: names,
    links, veth pairs, addresses, MTUs, states, masters, routes (see
    :mod:`netnswrap.lab.export` for what is left out).
    Equivalent to: the reads of ``nw.topology()`` and ``ip -all netns exec sysctl -e …``"""
    return _export.export(Netns(runner=runner), namespaces)


def dump(spec: dict, *, as_json: bool = False) -> str:
    """A topology dict as the text of a file: YAML (mappings of scalars on
    one line), or JSON with ``as_json``."""
    if as_json:
        return json.dumps(spec, indent=2) + "\n"
    import io
    from ruamel.yaml import YAML
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = None
    # 'h1:eth0' and IPv6 addresses quoted: libyaml (the C loader) refuses a ':' in a flow list
    yaml.representer.add_representer(str, lambda rep, text: rep.represent_scalar(
        "tag:yaml.org,2002:str", text, style='"' if ":" in text else None))
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    out = io.StringIO()
    yaml.dump(spec, out)
    return out.getvalue()


def schema_path() -> str:
    """Where the JSON Schema of the file format is (``netnswrap/data/topology.schema.json``)."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data",
                        "topology.schema.json")
