"""Real container engines for the live tests, made and removed here.

Context managers (usable anywhere) and pytest fixtures wrapping them:

- ``busybox_rootfs`` — a tar of the static busybox (Debian busybox-static)
  with ``sh`` and ``sleep``: the whole image, nothing is pulled.
- ``docker_image`` / ``docker_containers`` — ``docker import`` of it, then
  ``web`` and ``db`` running ``sleep`` on docker0 and ``idle`` created only.
- ``podman_container`` — the same image in podman, one container running in
  a namespace of ours (``--network ns:/run/netns/…``: podman's network
  backend never touches the host firewall).
- ``cni_pod`` — a Kubernetes-style pod: a "node" namespace whose bridge the
  CNI ``bridge`` plugin (host-local IPAM, default route via the gateway)
  wires to a "pod" namespace holding a pause process.

Everything is named ``nwct<PID>-…`` and removed afterwards, also when a test
fails half-way. A fixture skips, naming why, only where its engine cannot
run here (not installed, no daemon, not root). Import the fixtures you use,
and those they build on, into the test module::

    from engines import busybox_rootfs, docker_image, docker_containers  # noqa: F401
    from engines import podman_container, cni_pod                         # noqa: F401
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

PREFIX = f"nwct{os.getpid()}"
CNI_PATH = "/usr/lib/cni"
SUBNET, GATEWAY = "10.99.0.0/24", "10.99.0.1"  # only ever inside our own namespaces
# podman asks for rlimits above ours where the sandbox lacks CAP_SYS_RESOURCE: ask for low ones.
PODMAN_LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


def sh(argv: List[str], check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    """``argv`` run directly (never through netnswrap), output as text."""
    return subprocess.run(argv, capture_output=True, text=True, check=check,
                          env=dict(os.environ, LC_ALL="C"), **kwargs)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


# --- why an engine cannot run here ---------------------------------------------

def root_problem() -> str:
    return "" if os.geteuid() == 0 else "needs root"


def docker_problem() -> str:
    """Why docker cannot run containers here ('' if it can)."""
    if root_problem():
        return f"docker: {root_problem()}"
    if not shutil.which("docker"):
        return "docker: not installed (Debian package docker.io)"
    answer = sh(["docker", "version", "--format", "{{.Server.Version}}"], check=False, timeout=30)
    if answer.returncode != 0:
        return f"docker: the daemon does not answer ({_first_line(answer.stderr)}); start it with .ci/engines start"
    return ""


def podman_problem() -> str:
    """Why podman cannot run containers here ('' if it can)."""
    if root_problem():
        return f"podman: {root_problem()}"
    if not shutil.which("podman"):
        return "podman: not installed (Debian package podman)"
    return ""


def cni_problem() -> str:
    """Why the CNI bridge plugin cannot wire a pod here ('' if it can)."""
    if root_problem():
        return f"CNI: {root_problem()}"
    missing = [p for p in ("bridge", "host-local") if not os.access(f"{CNI_PATH}/{p}", os.X_OK)]
    if missing:
        return f"CNI: no {', '.join(missing)} plugin in {CNI_PATH} (Debian package containernetworking-plugins)"
    return ""


def _skip_if(reason: str) -> None:
    if reason:
        pytest.skip(reason)


# --- context managers ------------------------------------------------------------

@contextlib.contextmanager
def busybox_rootfs_made() -> Iterator[Path]:
    """A tar holding /bin/busybox (static), /bin/sh and /bin/sleep."""
    busybox = shutil.which("busybox") or ""
    linkage = sh(["ldd", busybox], check=False) if busybox else None
    if linkage is None or "not a dynamic executable" not in linkage.stdout + linkage.stderr:
        pytest.skip("needs a static busybox (Debian package busybox-static)")
    with tempfile.TemporaryDirectory(prefix=f"{PREFIX}-rootfs-") as workdir:
        root = Path(workdir, "rootfs")
        (root / "bin").mkdir(parents=True)
        shutil.copy2(busybox, root / "bin" / "busybox")
        for applet in ("sh", "sleep"):
            os.symlink("busybox", root / "bin" / applet)
        tar = Path(workdir, "rootfs.tar")
        sh(["tar", "-C", str(root), "-cf", str(tar), "."])
        yield tar


def sweep_dead_runs(engine: str) -> None:
    """Remove the containers, then the images, of test runs whose process is
    gone (``nwct<PID>-…`` with no such PID): a run killed while its daemon
    was down could not remove them. Those of live runs are never touched."""
    def dead(name: str) -> bool:
        found = re.match(r"(?:localhost/)?nwct(\d+)-", name)
        return found is not None and not Path(f"/proc/{found.group(1)}").exists()

    for listing, remove in ((["ps", "-a", "--format", "{{.Names}}"], ["rm", "-f"]),
                            (["images", "--format", "{{.Repository}}:{{.Tag}}"], ["rmi", "-f"])):
        stale = [name for name in sh([engine, *listing], check=False).stdout.split() if dead(name)]
        if stale:
            sh([engine, *remove, *stale], check=False)


@contextlib.contextmanager
def image_made(engine: str, rootfs: Path, prefix: str = PREFIX) -> Iterator[str]:
    """``ENGINE import`` of the rootfs as ``nwct<PID>-busybox``; removed after."""
    image = f"{prefix}-busybox:latest" if engine == "docker" else f"localhost/{prefix}-busybox:latest"
    sweep_dead_runs(engine)
    sh([engine, "import", "-c", 'CMD ["sleep","600"]', str(rootfs), image])
    try:
        yield image
    finally:
        sh([engine, "rmi", "-f", image], check=False)


def inspected(engine: str, name: str) -> Dict[str, object]:
    """The engine's own answer for a container, through its ``-f`` template."""
    template = "{{.Id}} {{.Name}} {{.Config.Image}} {{.State.Pid}}"
    ident, found, image, pid = sh([engine, "inspect", "--type", "container", "-f", template, name]).stdout.split()
    return {"engine": engine, "id": ident, "name": found.lstrip("/"), "image": image, "pid": int(pid)}


@contextlib.contextmanager
def docker_containers_made(image: str, prefix: str = PREFIX) -> Iterator[Dict[str, dict]]:
    """``web`` and ``db`` running ``sleep 600`` on docker0, ``idle`` created
    only: {"web": docker's own answer (id, name, image, pid), …}."""
    names = {role: f"{prefix}-{role}" for role in ("web", "db", "idle")}
    try:
        for role in ("web", "db"):
            sh(["docker", "run", "-d", "--name", names[role], image, "sleep", "600"])
        sh(["docker", "create", "--name", names["idle"], image, "sleep", "600"])
        yield {role: inspected("docker", name) for role, name in names.items()}
    finally:
        sh(["docker", "rm", "-f", *names.values()], check=False)


@contextlib.contextmanager
def podman_container_made(image: str) -> Iterator[dict]:
    """One podman container running ``sleep 600`` in namespace
    ``nwct<PID>-podns`` (its answer, plus "netns")."""
    netns, name = f"{PREFIX}-podns", f"{PREFIX}-pweb"
    sh(["ip", "netns", "add", netns])
    try:
        sh(["podman", "run", "-d", *PODMAN_LIMITS, "--network", f"ns:/run/netns/{netns}", "--name", name,
            image, "sleep", "600"])
        yield dict(inspected("podman", name), netns=netns)
    finally:
        sh(["podman", "rm", "-f", "-t", "0", name], check=False)
        sh(["ip", "netns", "del", netns], check=False)


def _cni(command: str, node: str, pod: str, conf: str, prefix: str) -> subprocess.CompletedProcess:
    """The CNI bridge plugin run in the node namespace (so the bridge, and the
    forwarding it turns on, stay there). Equivalent to: ``ip netns exec NODE
    env CNI_COMMAND=… /usr/lib/cni/bridge < conf``."""
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": f"{prefix}pod", "CNI_NETNS": f"/run/netns/{pod}",
           "CNI_IFNAME": "eth0", "CNI_PATH": CNI_PATH}
    argv = ["ip", "netns", "exec", node, "env", *(f"{k}={v}" for k, v in env.items()), f"{CNI_PATH}/bridge"]
    return sh(argv, check=False, input=conf)


@contextlib.contextmanager
def cni_pod_made(prefix: str = PREFIX) -> Iterator[dict]:
    """A node namespace, a pod namespace wired to the node's bridge by the CNI
    ``bridge`` plugin (host-local IPAM, isDefaultGateway) and a pause process
    in the pod: {"node", "pod", "bridge", "pid", "result": the plugin's ADD answer}."""
    node, pod, bridge = f"{prefix}-node", f"{prefix}-pod", f"{prefix}br"[:15]
    with tempfile.TemporaryDirectory(prefix=f"{prefix}-cni-") as state:
        conf = json.dumps({"cniVersion": "1.0.0", "name": prefix, "type": "bridge", "bridge": bridge,
                           "isGateway": True, "isDefaultGateway": True, "ipMasq": False,
                           "ipam": {"type": "host-local", "subnet": SUBNET, "dataDir": state}})
        pause: Optional[subprocess.Popen] = None
        added = False
        try:
            sh(["ip", "netns", "add", node])
            sh(["ip", "netns", "add", pod])
            answer = _cni("ADD", node, pod, conf, prefix)
            if answer.returncode != 0:
                raise RuntimeError(f"CNI ADD failed: {answer.stdout} {answer.stderr}")
            added = True
            pause = subprocess.Popen(["ip", "netns", "exec", pod, "sh", "-c", "echo ready; exec sleep 600"],
                                     stdout=subprocess.PIPE, text=True)
            assert pause.stdout is not None and pause.stdout.readline() == "ready\n"
            yield {"node": node, "pod": pod, "bridge": bridge, "pid": pause.pid,
                   "result": json.loads(answer.stdout)}
        finally:
            deleted = None
            try:
                if pause is not None:
                    pause.send_signal(signal.SIGKILL)
                    pause.wait()
                    pause.stdout.close()  # type: ignore[union-attr]
                deleted = _cni("DEL", node, pod, conf, prefix) if added else None
            finally:
                sh(["ip", "netns", "del", pod], check=False)
                sh(["ip", "netns", "del", node], check=False)
            if deleted is not None and deleted.returncode != 0:
                raise RuntimeError(f"CNI DEL failed: {deleted.stdout} {deleted.stderr}")


# --- what is left, and the host's firewall ------------------------------------------

def leftovers() -> Dict[str, List[str]]:
    """Our containers, images, links and namespaces that still exist."""
    found: Dict[str, List[str]] = {}
    for engine, problem in (("docker", docker_problem), ("podman", podman_problem)):
        if problem():
            continue
        found[f"{engine} containers"] = sh([engine, "ps", "-a", "--format", "{{.Names}}"]).stdout.split()
        found[f"{engine} images"] = sh([engine, "images", "--format", "{{.Repository}}"]).stdout.split()
    found["links"] = [link["ifname"] for link in json.loads(sh(["ip", "-j", "link", "show"]).stdout)]
    found["namespaces"] = sh(["ip", "netns", "list"]).stdout.split()
    return {kind: [n for n in names if PREFIX in n] for kind, names in found.items()}


def host_firewall() -> List[str]:
    """The root namespace's FORWARD policies and rules, forwarding and
    bridge-netfilter sysctls: what a stock dockerd or CNI plugin would change."""
    lines = []
    for table in ("iptables", "ip6tables"):
        if shutil.which(table):
            lines += [f"{table}: {line}" for line in sh([table, "-S", "FORWARD"], check=False).stdout.splitlines()]
    for key in ("net/ipv4/ip_forward", "net/ipv6/conf/all/forwarding", "net/bridge/bridge-nf-call-iptables",
                "net/bridge/bridge-nf-call-ip6tables"):
        path = Path("/proc/sys", key)
        lines.append(f"{key} = {path.read_text().strip() if path.exists() else 'absent'}")
    return lines


# --- pytest fixtures ---------------------------------------------------------------------

@pytest.fixture(scope="session")
def busybox_rootfs() -> Iterator[Path]:
    with busybox_rootfs_made() as tar:
        yield tar


@pytest.fixture(scope="session")
def docker_image(busybox_rootfs) -> Iterator[str]:
    _skip_if(docker_problem())
    with image_made("docker", busybox_rootfs) as image:
        yield image


@pytest.fixture(scope="module")
def docker_containers(docker_image) -> Iterator[Dict[str, dict]]:
    with docker_containers_made(docker_image) as made:
        yield made


@pytest.fixture(scope="module")
def podman_container(busybox_rootfs) -> Iterator[dict]:
    _skip_if(podman_problem())
    with image_made("podman", busybox_rootfs) as image, podman_container_made(image) as made:
        yield made


@pytest.fixture
def cni_pod() -> Iterator[dict]:
    _skip_if(cni_problem())
    with cni_pod_made() as pod:
        yield pod
