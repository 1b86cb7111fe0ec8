"""
A stand-in for Pulumi's Python language host (a Go program,
github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python, which the Go module proxy reachable here
refuses). It serves the LanguageRuntime gRPC service with the Automation API's in-process language server
from the `pulumi` package of the interpreter running it, so `pulumi up` runs a Python program's __main__.py
the way an inline Automation API program runs. scripts/setup-python.sh installs a launcher for it beside
the CLI, bound to a virtualenv holding pulumi. The engine starts it as
`pulumi-language-python [flags] <engine address>`.
"""
import os
import runpy
import sys
from concurrent import futures

import grpc
from pulumi.automation._server import LanguageServer
from pulumi.runtime.proto import language_pb2_grpc, plugin_pb2

ENGINE = ([a for a in sys.argv[1:] if not a.startswith("-")] or [""])[-1]
# The release setup installed (scripts/setup-python.sh sets it in the launcher).
PULUMI_VERSION = os.environ["PULUMI_LXC_PULUMI_VERSION"]


def entry_of(request) -> str:
    """The program's entry file, from the engine's ProgramInfo (or the older program field)."""
    info = request.info
    directory = info.program_directory or request.pwd or os.getcwd()
    entry = info.entry_point or request.program or "."
    path = os.path.join(directory, entry)
    return os.path.join(path, "__main__.py") if os.path.isdir(path) else path


class Host(LanguageServer):
    def __init__(self) -> None:
        super().__init__(None)

    def GetPluginInfo(self, request, context):
        return plugin_pb2.PluginInfo(version=PULUMI_VERSION)

    def Run(self, request, context):
        entry = entry_of(request)
        os.chdir(request.pwd or os.path.dirname(entry))
        sys.path.insert(0, os.path.dirname(entry))
        self.program = lambda: runpy.run_path(entry, run_name="__main__")
        # The in-process server takes the engine's address from the request's first argument.
        del request.args[:]
        request.args.append(ENGINE)
        return super().Run(request, context)


def main() -> None:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)])
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(Host(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    try:
        server.wait_for_termination()
    except KeyboardInterrupt:
        # The engine stops its language host with SIGINT when it is done: a normal end, not an error.
        server.stop(0)


if __name__ == "__main__":
    main()
