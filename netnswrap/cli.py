"""The ``netnswrap`` command line (also ``python -m netnswrap``).

Every subcommand runs through one runner chosen by the global options:
live (``ShRunner``, the default), ``--replay FILE`` (answers from a
cassette, runs nothing) or ``--dry-run`` (prints the exact command lines,
runs nothing). Exit status: 0 on success, 1 on a netnswrap error (one line
on stderr; also when the output cannot be written, e.g. to ``/dev/full``),
2 on a usage error, 130 when interrupted (after cleaning up), 141 when the
reader of the output went away (``netnswrap topology | head -1``): no message,
the status a shell reports for a Unix tool killed by SIGPIPE.
"""
from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import signal
import sys
import threading
from typing import Iterator, List, Optional

from . import __version__
from .containers import ENGINES
from .errors import CassetteError, InvalidArgument, NetnsWrapError, ParseError
from .handle import Netns
from .defaults import use_runner
from .runners import DryRunRunner, Runner
from .validate import check_argv, check_timeout

EXAMPLES = """\
examples:
  netnswrap demo                       the seed walkthrough (live as root, else replayed)
  netnswrap topology                   every namespace, veth pair, bridge and container PID
  netnswrap topology --dot | dot -Tsvg > host.svg
  netnswrap peer veth30314cf           which container is this host veth's other end?
  netnswrap peer eth0 --pid 1503       which host veth is container 1503's eth0?
  netnswrap peer eth0 --container web  the same, by docker/podman/nerdctl/crictl name or ID
  netnswrap netns add blue             ip netns add blue
  netnswrap netns exec blue ip -br a   ip netns exec blue ip -br a
  netnswrap record host.json           snapshot what topology reads into a cassette
  netnswrap apply lab.yml --plan       what a topology file would change (apply: do it; destroy: undo)
  netnswrap --replay host.json topology
  netnswrap --dry-run netns add blue   print the command line, run nothing

exit status: 0 success, 1 error (one line on stderr), 2 usage error, 130 interrupted,
  141 output closed early (`netnswrap topology | head -1`: quietly, like a Unix tool on SIGPIPE)
"""

EXEC_CONVENTION = """\
everything after NAME is the program's command line, passed on as it is:
  netnswrap netns exec blue ip --help     ip's help, run in blue (not this help)
  netnswrap netns exec blue -- ls -l      a `--` before CMD is accepted and dropped
netnswrap's own options (--dry-run, --replay FILE, --timeout S) go before NAME.
The program reads this stdin and writes this stdout and stderr itself, as it
goes; it has no time limit unless --timeout S is given; netnswrap exits with
its status (128 + N if signal N killed it); Ctrl-C stops it (exit 130).
"""

# 128 + SIGPIPE: what a shell reports for a Unix tool whose reader went away.
EXIT_OUTPUT_CLOSED = 128 + signal.SIGPIPE


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``netnswrap``."""
    # Global options are accepted before or after the subcommand.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--replay", metavar="FILE", default=argparse.SUPPRESS,
                        help="answer every command from the cassette FILE; nothing runs")
    common.add_argument("--dry-run", action="store_true", default=argparse.SUPPRESS,
                        help="print the exact command lines; nothing runs")

    parser = argparse.ArgumentParser(
        prog="netnswrap", parents=[common], epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Network namespaces, veth pairs, bridges and NIC statistics through "
                    "ip, ethtool and nsenter: live, replayed from a cassette, or dry-run.")
    parser.add_argument("--version", action="version", version=f"netnswrap {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name, help, examples):
        return commands.add_parser(name, help=help, description=help, parents=[common],
                                   epilog="examples:\n" + examples,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)

    demo = command("demo", "the seed walkthrough, narrated: namespaces, a veth pair, ping, "
                   "peer_ifindex, a container on docker0, netns-local devices",
                   "  netnswrap demo                 live as root (throwaway namespaces), else replayed\n"
                   "  netnswrap --dry-run demo       the command lines only\n"
                   "  netnswrap demo --record FILE   run live and record the cassette FILE\n")
    demo.add_argument("--record", metavar="FILE",
                      help="run live (as root) and record every command into the cassette FILE")
    demo.set_defaults(func=cmd_demo)

    topology = command("topology", "every namespace (named, and containers by PID), "
                       "veth pair, bridge and address",
                       "  netnswrap topology\n  netnswrap topology --json\n"
                       "  netnswrap topology --dot | dot -Tsvg > host.svg\n")
    style = topology.add_mutually_exclusive_group()
    style.add_argument("--json", action="store_true", help="print the topology as JSON")
    style.add_argument("--dot", action="store_true", help="print a Graphviz DOT graph")
    topology.set_defaults(func=cmd_topology)

    peer = command("peer", "the other end of veth DEV: its namespace (or container PID), "
                   "name and ifindex",
                   "  netnswrap peer veth30314cf\n  netnswrap peer eth0 --pid 1503\n"
                   "  netnswrap peer eth0 --container web\n"
                   "  netnswrap peer veth1 --netns blue --json\n")
    peer.add_argument("dev", metavar="DEV", help="a veth device")
    where = peer.add_mutually_exclusive_group()
    where.add_argument("--netns", metavar="NAME", help="DEV is in the named namespace NAME")
    where.add_argument("--pid", metavar="PID", type=int,
                       help="DEV is in the namespace of process PID (e.g. a container)")
    where.add_argument("--container", metavar="REF",
                       help="DEV is in container REF: a docker, podman, nerdctl or crictl "
                            "name, ID or unique ID prefix")
    peer.add_argument("--engine", choices=ENGINES,
                      help="with --container: ask only this engine (default: each installed one)")
    peer.add_argument("--json", action="store_true", help="print the answer as JSON")
    peer.set_defaults(func=cmd_peer)

    netns = command("netns", "list, add, delete named namespaces, or run a program in one",
                    "  netnswrap netns list\n  netnswrap netns add blue\n"
                    "  netnswrap netns exec blue ping -c 1 10.1.1.2\n  netnswrap netns del blue\n")
    actions = netns.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", parents=[common], help="named namespaces (ip netns list)")
    listing.add_argument("--json", action="store_true", help="print the list as JSON")
    listing.set_defaults(func=cmd_netns_list)
    for name, func, help in (("add", cmd_netns_add, "create a namespace (ip netns add NAME)"),
                             ("del", cmd_netns_del, "delete a namespace (ip netns del NAME)")):
        action = actions.add_parser(name, parents=[common], help=help)
        action.add_argument("name", metavar="NAME")
        action.set_defaults(func=func)
    run = actions.add_parser("exec", parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter,
                             help="run a program in a namespace (ip netns exec NAME CMD…); "
                                  "exits with its exit status",
                             description="Run a program in the namespace NAME, as `ip netns exec NAME CMD…` "
                                         "does, and exit with its exit status.",
                             epilog=EXEC_CONVENTION)
    run.add_argument("--timeout", metavar="S", type=float,
                     help="kill the program (its whole process group) after S seconds; default: no limit")
    run.add_argument("name", metavar="NAME")
    run.add_argument("argv", metavar="CMD", nargs=argparse.REMAINDER, help="the program and its arguments")
    run.set_defaults(func=cmd_netns_exec, parser=run)

    record = command("record", "snapshot everything topology reads into the cassette FILE",
                     "  netnswrap record host.json\n  netnswrap --replay host.json topology\n")
    record.add_argument("file", metavar="FILE")
    record.set_defaults(func=cmd_record)

    apply = command("apply", "converge the host to the topology FILE (YAML or JSON) in one batch, "
                    "undone on failure; prints the command lines it ran",
                    "  netnswrap apply lab.yml --plan       the exact command lines, by namespace; runs nothing\n"
                    "  netnswrap apply lab.yml              make what is missing, fix what drifted\n"
                    "  netnswrap export r h1 > lab.yml      a file that builds r and h1 again\n")
    apply.add_argument("file", metavar="FILE", help="a topology file (.yml/.yaml, or .json)")
    apply.add_argument("--plan", action="store_true",
                       help="print the command lines apply would run (grouped by namespace), run nothing")
    apply.set_defaults(func=cmd_apply)

    destroy = command("destroy", "delete the namespaces the topology FILE declares (with all they "
                      "hold), nothing else",
                      "  netnswrap destroy lab.yml\n")
    destroy.add_argument("file", metavar="FILE", help="a topology file (.yml/.yaml, or .json)")
    destroy.set_defaults(func=cmd_destroy)

    export = command("export", "the named namespaces NS (all when none is given) as a topology "
                     "file that netnswrap apply builds again",
                     "  netnswrap export                     every named namespace, as YAML\n"
                     "  netnswrap export r h1 --json > lab.json\n")
    export.add_argument("namespaces", metavar="NS", nargs="*", help="named namespaces (default: all)")
    export.add_argument("--json", action="store_true", help="print JSON instead of YAML")
    export.set_defaults(func=cmd_export)

    cleanup = command("cleanup", "undo what batches whose process was killed had done "
                      "(their records in /run/netnswrap), and nothing else",
                      "  netnswrap cleanup\n  netnswrap --dry-run cleanup\n")
    cleanup.set_defaults(func=cmd_cleanup)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``netnswrap ARGS…``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # Not set_defaults: the option objects are shared with the subcommands' parsers.
    args.replay, args.dry_run = getattr(args, "replay", None), getattr(args, "dry_run", False)
    if args.replay and args.dry_run:
        parser.error("--replay and --dry-run exclude each other")
    if args.func is cmd_netns_exec:
        args.argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
        if not args.argv:
            args.parser.error("a program to run is needed, e.g. netnswrap netns exec blue ip link")
    # SIGTERM cleans up like Ctrl-C while netnswrap runs; the caller's handler
    # comes back after (main() may run inside a program: a test, a tool).
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None
    try:
        return _run(args)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _run(args) -> int:
    """The subcommand ``args`` names, run; its exit status (errors printed, not raised)."""
    try:
        runner = make_runner(args)
        with use_runner(runner):
            answer = args.func(args, runner)
        if isinstance(answer, str) and answer and not args.dry_run:  # a dry run's answers are empty
            # Line by line: a single write larger than the buffer, cut short by a
            # closed pipe, ends without an error here (CPython 3.11), small ones fail.
            _stdout().writelines(answer.splitlines(keepends=True) + ([] if answer.endswith("\n") else ["\n"]))
        if sys.stdout is not None:
            sys.stdout.flush()  # a full disk or a closed pipe shows here, not in the interpreter's exit
        return answer if isinstance(answer, int) else 0
    except (InvalidArgument, CassetteError) as exc:  # wrong whatever the answers: also in a dry run
        return _fail(exc)
    except NetnsWrapError as exc:
        if args.dry_run:  # the next command would depend on a real answer
            print(f"netnswrap: dry run stops here: {_one_line(exc)}", file=sys.stderr)
            return 0
        if args.replay and isinstance(exc, ParseError):  # the recording, not the tool, said this
            return _fail(exc, f" (replayed from {args.replay})")
        return _fail(exc)
    except KeyboardInterrupt:
        print("netnswrap: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `netnswrap topology | head -1`: the reader has gone; no message
        _discard_output()
        return EXIT_OUTPUT_CLOSED
    except OSError as exc:  # stdout on a full disk (/dev/full), a file that cannot be read…
        _discard_output()
        what = exc.filename if exc.filename is not None else "cannot write the output"
        print(f"netnswrap: error: {what}: {exc.strerror or exc}", file=sys.stderr)
        return 1


def _stdout():
    """sys.stdout, or OSError if netnswrap was started with it closed (``>&-``)."""
    if sys.stdout is None:
        raise OSError(errno.EBADF, "stdout is closed")
    return sys.stdout


def _discard_output() -> None:
    """Point stdout at /dev/null, so that the interpreter's own flush at exit
    neither fails again nor prints a traceback."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # no stdout at all
        pass


def make_runner(args) -> Runner:
    """The runner the global options ask for."""
    if args.replay:
        from .cassette import ReplayRunner
        return ReplayRunner(args.replay)
    if args.dry_run:
        # The demo prints each command itself, so its dry runner stays quiet.
        return DryRunRunner(print_commands=args.command != "demo")
    from .shrunner import ShRunner
    return ShRunner()


def cmd_demo(args, runner: Runner) -> None:
    from . import demo
    if args.replay or args.dry_run:
        how = f"replaying {args.replay}" if args.replay else "dry run: printing the commands, running nothing"
        if args.record:
            raise InvalidArgument("--record runs the demo live: it excludes --replay and --dry-run")
    else:
        problem = demo.live_problem()
        if args.record and problem:
            raise InvalidArgument(f"--record runs the demo live, which needs root and {', '.join(demo.TOOLS)}: {problem}")
        if problem:
            from .cassette import ReplayRunner
            runner = ReplayRunner(demo.shipped_cassette())
            how = (f"replaying the recording shipped with netnswrap: {problem}, so nothing runs "
                   f"here (live, it needs root and {', '.join(demo.TOOLS)})")
        else:
            how = "live, as root, in throwaway namespaces removed at the end (also on Ctrl-C)"
    recorder = None
    if args.record:
        from .cassette import RecordingRunner
        runner = recorder = RecordingRunner(args.record, inner=runner)
    print(f"netnswrap demo: {how}", flush=True)
    demo.run(runner)
    if recorder is not None:
        recorder.save()
        print(f"\nrecorded into {args.record}")


def cmd_topology(args, runner: Runner) -> str:
    topology = Netns().topology()
    from . import render
    if args.json:
        return json.dumps(topology, indent=2)
    return render.dot(topology) if args.dot else render.tree(topology)


def cmd_peer(args, runner: Runner) -> str:
    from .demo import peer_line
    if args.engine is not None and args.container is None:
        raise InvalidArgument("--engine goes with --container")
    handle = (Netns.from_container(args.container, engine=args.engine) if args.container is not None
              else Netns.from_pid(args.pid) if args.pid is not None else Netns(args.netns))
    peer = handle.veth_peer(args.dev, containers=True)
    return json.dumps(peer, indent=2) if args.json else f"{args.dev} ↔ {peer_line(dict(peer))}"


def cmd_netns_list(args, runner: Runner) -> str:
    namespaces = Netns().netns_list()
    if args.json:
        return json.dumps(namespaces, indent=2)
    return "".join(entry["name"] + (f" (id: {entry['id']})" if "id" in entry else "") + "\n"
                   for entry in namespaces)


def cmd_netns_add(args, runner: Runner) -> None:
    Netns().netns_add(args.name)


def cmd_netns_del(args, runner: Runner) -> None:
    Netns().netns_del(args.name)


def cmd_netns_exec(args, runner: Runner) -> int:
    check_argv(args.argv)  # before anything runs
    check_timeout(args.timeout)
    if _is_live(runner):
        # ip's own failure to enter NAME (missing, no rights) is an error of
        # netnswrap's, with its hint, not the program's exit status 255.
        Netns(args.name).exec(["true"])
    result = Netns(args.name, runner=Terminal(runner)).exec(args.argv, timeout=args.timeout, check=False)
    # A program killed by signal N exits 128 + N, as a shell reports it.
    return 128 - result.returncode if result.returncode < 0 else result.returncode


class Terminal(Runner):
    """Runs each command as ``ip netns exec`` would: started through
    ``inner.spawn`` on this process's own stdin, stdout and stderr, which the
    program reads and writes itself as it goes (output that cannot go there is
    printed when it ends), waited for with no time limit unless one is given.
    On a terminal the program is its foreground job, so Ctrl-C reaches it;
    elsewhere Ctrl-C (or SIGTERM) sends it SIGINT, then SIGKILL after
    ``process.TERMINATE_GRACE`` seconds, and exits 130."""

    def __init__(self, inner: Runner):
        super().__init__()
        self.inner = inner
        self.facts = inner.facts

    def run(self, argv, *, input=None, timeout=None):
        streams = {name: _with_fd(stream) for name, stream in
                   (("stdin", sys.stdin), ("stdout", sys.stdout), ("stderr", sys.stderr))}
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        with self.inner.spawn(argv, **streams) as process, _foreground(process, streams["stdin"]):
            try:
                result = process.wait(timeout)
            except KeyboardInterrupt:
                process.terminate(signum=signal.SIGINT)
                raise
        if streams["stdout"] is None and result.stdout:
            _stdout().write(result.stdout)
        if streams["stderr"] is None and sys.stderr is not None:
            sys.stderr.write(result.stderr)
        return result


def _with_fd(stream):
    """``stream`` if it is a file with a descriptor (a program can use it), else None."""
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    return stream


@contextlib.contextmanager
def _foreground(process, stdin) -> Iterator[None]:
    """Make the program's process group the terminal's foreground job while
    it runs, as a shell does (else reading the terminal would stop it), and
    take the terminal back afterwards."""
    fd = stdin.fileno() if stdin is not None else -1
    if process.pid is None or fd < 0 or not os.isatty(fd) or os.tcgetpgrp(fd) != os.getpgrp():
        yield
        return
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # a background group may not set it otherwise
    try:
        os.tcsetpgrp(fd, process.pid)
        process.send_signal(signal.SIGCONT)  # in case it read the terminal before it was its own
        yield
    finally:
        try:
            os.tcsetpgrp(fd, os.getpgrp())
        finally:
            signal.signal(signal.SIGTTOU, previous)


def cmd_record(args, runner: Runner) -> str:
    from .cassette import RecordingRunner
    recorder = RecordingRunner(args.file, inner=runner)
    Netns(runner=recorder).topology()
    if args.dry_run:
        print(f"dry run: {args.file} not written", file=sys.stderr)
    else:
        recorder.save()
    return f"recorded {len(recorder.interactions)} commands (what topology reads) into {args.file}"


def cmd_apply(args, runner: Runner) -> str:
    from . import lab
    if args.plan:
        groups = lab.plan_groups(args.file)
        if not groups:
            return f"nothing to do: the host matches {args.file}"
        return "\n".join(f"# {where}\n" + "\n".join(lines) for where, lines in groups)
    ran = lab.apply(args.file)
    return "\n".join(ran + [f"applied {args.file}: {len(ran)} changes"]) if ran else \
        f"nothing to do: the host matches {args.file}"


def cmd_destroy(args, runner: Runner) -> str:
    from . import lab
    ran = lab.destroy(args.file)
    return "\n".join(ran) if ran else f"nothing to destroy: no namespace of {args.file} exists"


def cmd_export(args, runner: Runner) -> str:
    from . import lab
    return lab.dump(lab.export(args.namespaces or None), as_json=args.json)


def cmd_cleanup(args, runner: Runner) -> str:
    from .batch_undo import cleanup
    finished = cleanup(runner)
    return "\n".join(f"undone: {directory}" for directory in finished) or "nothing to clean up"


def _is_live(runner: Runner) -> bool:
    from .shrunner import ShRunner
    return isinstance(runner, ShRunner)


def _fail(exc: NetnsWrapError, where: str = "") -> int:
    print(f"netnswrap: error: {_one_line(exc)}{where}", file=sys.stderr)
    return 1


def _one_line(exc: BaseException) -> str:
    return " ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def _interrupt(signum, frame):
    """SIGTERM cleans up like Ctrl-C."""
    raise KeyboardInterrupt
