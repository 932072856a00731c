#!/usr/bin/env python3
"""A server in one namespace, a client in another, with netnswrap.

    sudo python3 examples/client_server.py [PREFIX]

    PREFIX-srv (10.77.0.1/24) eth0 ──veth── eth0 (10.77.0.2/24) PREFIX-cli
    python3 -m http.server                   busybox wget

Two throwaway namespaces (PREFIX defaults to ``cs<PID>``) joined by a veth
pair. The server is started in the background with ``spawn`` and read line
by line until it says it listens; the client fetches a file across the veth
and its output is checked against the file; the server's log shows the
request came from the client's address. Both namespaces are deleted at the
end, whatever happens, and each ``with`` block of a namespace first kills
every process still in it (here a ``sleep`` left running on purpose):
nothing outlives the example. Nothing outside the two namespaces changes.
"""
from __future__ import annotations

import os
import sys
import tempfile

import netnswrap as nw

PORT = 8000


def main(prefix: str) -> None:
    with tempfile.TemporaryDirectory(prefix=f"{prefix}-www.") as www, \
            nw.netns_add(f"{prefix}-srv") as srv, nw.netns_add(f"{prefix}-cli") as cli:
        body = f"hello from {srv.name}\n"
        with open(os.path.join(www, "hello.txt"), "w") as file:
            file.write(body)

        print(f"ip link add eth0 type veth peer name eth0 netns {cli.name}   (in {srv.name})")
        srv.link_add("eth0", "veth", peer="eth0", peer_netns=cli)
        for handle, address in ((srv, "10.77.0.1/24"), (cli, "10.77.0.2/24")):
            handle.addr_add("eth0", address)
            handle.link_set_up("eth0")
            handle.link_set_up("lo")

        server_argv = ["python3", "-m", "http.server", "--bind", "10.77.0.1", "--directory", www, str(PORT)]
        print(f"ip netns exec {srv.name} {' '.join(server_argv)} &")
        # PYTHONUNBUFFERED: the server's stdout is a pipe, which Python would buffer.
        with srv.spawn(server_argv, env={"PYTHONUNBUFFERED": "1"}) as server:
            print(f"  server: PID {server.pid}")
            for line in server.lines(timeout=30):  # ready once it says it serves
                print(f"  server: {line.rstrip()}")
                if line.startswith("Serving HTTP"):
                    break

            url = f"http://10.77.0.1:{PORT}/hello.txt"
            print(f"ip netns exec {cli.name} busybox wget -q -O - {url}")
            with cli.spawn(["busybox", "wget", "-q", "-O", "-", url]) as client:
                fetched = client.wait(timeout=30)
            print(f"  client: exit {fetched.returncode}, {fetched.stdout!r}")
            if fetched.returncode != 0 or fetched.stdout != body:
                raise SystemExit(f"the client got {fetched.stdout!r} (exit {fetched.returncode}, "
                                 f"{fetched.stderr.strip()!r}), not {body!r}")

            server.terminate()  # SIGTERM to its group; SIGKILL if it were still there 5 s later
            print(f"  server: ended with {server.returncode}; its log (stderr):")
            for line in server.stderr.splitlines():
                print(f"    {line}")
            if "10.77.0.2" not in server.stderr:
                raise SystemExit("the server did not log a request from the client's address")

        left = cli.spawn(["sleep", "300"])
        print(f"left running in {cli.name}: sleep 300 (PID {left.pid}): killed as the namespace goes")
    print(f"sleep 300: ended with {left.wait(timeout=30).returncode}; {srv.name} and {cli.name} deleted")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else f"cs{os.getpid()}")
