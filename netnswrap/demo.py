"""``netnswrap demo``: the seed walkthrough, narrated.

Every command the walkthrough runs is printed as the shell line it is
(``$ …``), followed by what netnswrap parsed from its output (``→ …``):
namespaces, a veth pair between them, addresses, links up, ping across,
``ethtool -S`` → ``peer_ifindex`` → the peer in the other namespace, a
docker-style "container" (a process in a network namespace of its own) on
a bridge ``docker0`` in a "host" namespace, and which devices may change
namespace.

It runs through any runner: live (as root; everything it makes lives in
throwaway namespaces named ``nwdemo<PID>-…`` and in the container process,
all removed at the end, also on Ctrl-C), recorded, replayed from the
cassette shipped in the package (:func:`shipped_cassette`), or dry-run.
Nothing is ever created in the caller's own namespace. The container's PID
names the namespaces, so a replay makes exactly the recorded calls. To
record the shipped cassette::

    netnswrap demo --record netnswrap/data/demo.json
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import List, Optional, TextIO

from .errors import CommandError, NamespaceNotFound, NetnsWrapError
from .handle import Netns
from .runners import DryRunRunner, Runner

# Programs the live demo runs.
TOOLS = ("ip", "ethtool", "nsenter", "unshare", "ping", "kill", "sh")

# Starts the container and prints its PID from inside its new namespace (so
# the PID is never seen before the namespace exists); the container lives 10
# minutes at most, whatever happens to the demo.
CONTAINER = ("sh", "-c", "unshare --net sh -c 'echo $$; exec sleep 600 >/dev/null 2>&1' &")

# Signals that stop the demo (after its cleanup).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_PING_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) received")
_PING_RTT = re.compile(r"= [\d.]+/([\d.]+)/")


def shipped_cassette() -> Path:
    """The recording of a live demo that ships with the package."""
    return Path(__file__).with_name("data") / "demo.json"


def live_problem() -> str:
    """Why the demo cannot run live here ('' if it can)."""
    if os.geteuid() != 0:
        return "not root"
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    return f"{', '.join(missing)} not found" if missing else ""


class Narrator(Runner):
    """Prints each command as its shell line, then runs it through ``inner``."""

    def __init__(self, inner: Runner, out: TextIO):
        super().__init__()
        self.inner = inner
        self.out = out
        self.interrupted = False
        self.cleaning = False  # output errors (a closed pipe) must not stop the cleanup

    def run(self, argv, *, input=None, timeout=None):
        if self.interrupted:  # Python swallows a KeyboardInterrupt raised in a __del__
            raise KeyboardInterrupt
        self.write(f"   $ {shlex.join(argv)}")
        return self.inner.run(argv, input=input, timeout=timeout)

    def pause(self, seconds: float) -> None:
        """As ``inner`` pauses: a replayed demo never waits."""
        self.inner.pause(seconds)

    def write(self, text: str) -> None:
        """Print a line; a failed write (``netnswrap demo | head``) stops the
        steps, never the cleanup."""
        try:
            print(text, file=self.out, flush=True)
        except OSError:
            if not self.cleaning:
                raise


def run(runner: Runner, out: Optional[TextIO] = None) -> None:
    """Run the walkthrough through ``runner``, narrated to ``out`` (stdout).

    Everything it creates is removed before it returns or raises, Ctrl-C
    included. Equivalent to the seed's ``ip netns add`` … ``ip netns del``
    session, command by command as printed.
    """
    Walkthrough(runner, out or sys.stdout).run()


class Walkthrough:
    """The demo's steps; cleanup removes ``namespaces`` and kills ``container``."""

    def __init__(self, runner: Runner, out: TextIO):
        self.runner = Narrator(runner, out)
        self.dry = isinstance(runner, DryRunRunner)
        self.root = Netns(runner=self.runner)
        self.namespaces: List[str] = []
        self.container: Optional[int] = None
        self.steps = 0
        self.interrupted = False

    def say(self, text: str) -> None:
        self.runner.write(text)

    def step(self, title: str) -> None:
        self.steps += 1
        self.say(f"\n{self.steps}. {title}")

    def result(self, text: str) -> None:
        self.say(f"   → {text}")

    def look(self, read, show):
        """Print ``show(read())`` and return what was read; in a dry run, where
        reads answer nothing, say so instead."""
        try:
            answer = read()
        except NetnsWrapError:
            if not self.dry:
                raise
            answer = None
        self.result("(dry run: nothing was read)" if self.dry else show(answer))
        return answer

    def run(self) -> None:
        """The steps, then cleanup. Ctrl-C or SIGTERM stop the steps, never
        the cleanup; after it, ``KeyboardInterrupt`` goes on."""
        previous = _handle_signals(self.interrupt)
        try:
            try:
                self.start_container()
                prefix = f"nwdemo{self.container}"
                one, two = self.pair(f"{prefix}-ns1", f"{prefix}-ns2")
                self.find_peer(one, two)
                host, veth = self.docker_host(f"{prefix}-host")
                self.container_peer(host, veth)
                self.movable(one, host, veth)
            finally:
                _handle_signals(self.note_interrupt)
                self.runner.interrupted = False
                self.runner.cleaning = True
                self.cleanup()
        finally:
            _handle_signals(previous)
        if self.interrupted:
            raise KeyboardInterrupt

    def interrupt(self, signum, frame):
        self.interrupted = self.runner.interrupted = True
        raise KeyboardInterrupt

    def note_interrupt(self, signum, frame):
        self.interrupted = True

    def netns_add(self, name: str) -> Netns:
        self.namespaces.append(name)  # before it runs: Ctrl-C may land right after
        return self.root.netns_add(name)

    def start_container(self) -> None:
        self.step('A "container": a process in a new network namespace of its own '
                  "(docker's busybox, PID 1503 in the seed)")
        output = self.root.exec(CONTAINER).stdout.strip()
        if output:
            self.container = int(output)
            self.result(f"PID {self.container}; this demo's namespaces are named "
                        f"nwdemo{self.container}-…")
        else:  # a dry run starts nothing
            self.container = os.getpid()
            self.result(f"(dry run: no container; PID {self.container} of this process stands in)")

    def pair(self, name1: str, name2: str):
        self.step("Two named namespaces; a new one has only lo, and it is down")
        one, two = self.netns_add(name1), self.netns_add(name2)
        self.look(one.link_list, lambda links: f"{name1}: " + "; ".join(map(link_line, links)))

        self.step(f"A veth pair in {name2}; then veth1 moves to {name1}")
        two.veth_add("veth0", "veth1")
        two.link_set("veth1", netns=name1)
        self.look(lambda: one.link_show("veth1"), lambda link: f"{name1}: {link_line(link)}")
        self.look(lambda: two.link_show("veth0"), lambda link: f"{name2}: {link_line(link)}")

        self.step("Addresses on both ends, links up")
        one.addr_add("veth1", "10.1.1.1/24")
        two.addr_add("veth0", "10.1.1.2/24")
        one.link_set_up("veth1")
        two.link_set_up("veth0")
        self.look(lambda: one.addr_list("veth1"), lambda links: f"{name1}: {link_line(links[0])}")
        self.look(lambda: two.addr_list("veth0"), lambda links: f"{name2}: {link_line(links[0])}")

        self.step("The two namespaces talk through the pair: ping across, both ways")
        self.ping(one, "10.1.1.2")
        self.ping(two, "10.1.1.1")
        return one, two

    def ping(self, netns: Netns, address: str) -> None:
        self.look(lambda: netns.exec(["ping", "-c", "1", "-W", "5", address]).stdout, ping_line)

    def find_peer(self, one: Netns, two: Netns) -> None:
        self.step("Which device is the other end? ethtool -S tells its ifindex "
                  "(peer_ifindex), and that index is looked up in the other namespace")
        index = self.look(lambda: one.ethtool_stats("veth1").get("peer_ifindex"),
                          lambda index: f"peer_ifindex: {index}")
        self.look(two.link_list, lambda links: f"in {two.name}, ifindex {index} is "
                  + by_index(links, index))

    def started(self) -> int:
        """The container's PID (step 1 has started it)."""
        if self.container is None:
            raise NetnsWrapError("the demo's container was not started")
        return self.container

    def docker_host(self, name: str):
        pid = self.started()
        veth = f"veth{pid:07x}"  # docker-style: veth30314cf
        self.step(f"A docker host in namespace {name}: bridge docker0 with 172.17.0.1/16, "
                  f"and a veth whose other end is eth0 in the container (PID {pid})")
        host = self.netns_add(name)
        host.bridge_add("docker0")
        host.addr_add("docker0", "172.17.0.1/16")
        host.link_set_up("docker0")
        host.veth_add(veth, "eth0", peer_netns=pid)
        host.link_set(veth, master="docker0", up=True)
        container = Netns.from_pid(pid, runner=self.runner)
        container.addr_add("eth0", "172.17.0.2/16")
        container.link_set_up("eth0")
        self.look(host.addr_list, lambda links: f"{name}: " + "; ".join(map(link_line, links)))
        self.look(container.addr_list,
                  lambda links: f"PID {pid}: " + "; ".join(map(link_line, links)))
        self.say("   The host end works at the link layer, as a bridge port: it needs no address.")
        self.ping(container, "172.17.0.1")
        return host, veth

    def container_peer(self, host: Netns, veth: str) -> None:
        pid = self.started()
        self.step(f"Which host veth belongs to container PID {pid}, and the other way round?")
        container = Netns.from_pid(pid, runner=self.runner)
        self.look(lambda: container.veth_peer("eth0"), lambda peer: f"PID {pid} eth0 ↔ {peer_line(peer)}")
        self.look(lambda: host.veth_peer(veth), lambda peer: f"{host.name} {veth} ↔ {peer_line(peer)}")

    def movable(self, one: Netns, host: Netns, veth: str) -> None:
        self.step("Which devices may change namespace? (ethtool -k: netns-local on = no)")
        for netns, dev in ((host, veth), (host, "docker0"), (one, "lo")):
            self.look(lambda: netns.can_move(dev),
                      lambda movable: f"{netns.name} {dev}: "
                      + ("may move" if movable else "netns-local, cannot move"))

    def cleanup(self) -> None:
        """Kill the container and delete the namespaces."""
        if self.container is None and not self.namespaces:
            return
        self.step("Clean up: kill the container, delete the namespaces (their links go with them)")
        if self.container is not None:
            try:
                self.root.exec(["kill", str(self.container)])
            except CommandError:  # it is gone already
                pass
        for name in reversed(self.namespaces):
            try:
                self.root.netns_del(name)
            except NamespaceNotFound:
                pass


def _handle_signals(handler) -> dict:
    """Set ``handler`` (one, or a dict per signal) for :data:`STOP_SIGNALS`;
    returns the previous ones. Only the main thread may; elsewhere a no-op."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    handlers = handler if isinstance(handler, dict) else dict.fromkeys(STOP_SIGNALS, handler)
    return {signum: signal.signal(signum, each) for signum, each in handlers.items()}


def link_line(link: dict) -> str:
    """A link dict as ``ip -br``-like text: ``4: eth0@if5 UP 172.17.0.2/16 master docker0``."""
    name = link.get("ifname", "?")
    if "link_index" in link:
        name += f"@if{link['link_index']}"
    elif link.get("link"):
        name += f"@{link['link']}"
    words = [f"{link.get('ifindex', '?')}: {name}", link.get("operstate", "")]
    words += [f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", ())
              if a.get("family") == "inet"]
    if link.get("master"):
        words.append(f"master {link['master']}")
    if "link_netnsid" in link:
        words.append(f"link-netnsid {link['link_netnsid']}")
    return " ".join(word for word in words if word)


def by_index(links: List[dict], ifindex) -> str:
    for link in links:
        if link.get("ifindex") == ifindex:
            return link_line(link)
    return "no link"


def peer_line(peer: dict) -> str:
    """Where a peer (``veth_peer``'s answer) is: ``veth0 (ifindex 5) in netns blue``."""
    from .containers import label
    from .nsids import describe
    held = ", ".join(label(container) for container in peer.get("containers", ()))
    where = describe((peer["netns"], peer["pid"])) + (f" ({held})" if held else "")
    return f"{peer['ifname']} (ifindex {peer['ifindex']}) in {where}"


def ping_line(output: str) -> str:
    """``ping`` output summed up: ``1 sent, 1 received, rtt 0.045 ms``."""
    summary = _PING_SUMMARY.search(output)
    if not summary:
        return "(no ping summary)"
    rtt = _PING_RTT.search(output)
    return f"{summary[1]} sent, {summary[2]} received" + (f", rtt {rtt[1]} ms" if rtt else "")
