"""moto's server, answering one request at a time.

moto implements each DynamoDB call as several Python steps (read, check the condition, write; a failed
TransactWriteItems restores whole-table snapshots), so under the threaded server two concurrent calls
can interleave in ways DynamoDB never allows: an atomic ADD loses increments, a failed transaction erases
a concurrent winner's write. Serialising requests gives every call the atomicity DynamoDB guarantees,
which the store contract's concurrency tests rely on. Connections are still handled by threads, so
keep-alive clients do not block each other. Same command line as `moto_server`.
"""

import sys
import threading

import moto.server as server

_LOCK = threading.Lock()


class SerialApplication(server.DomainDispatcherApplication):
    """Runs the wrapped WSGI application under one process-wide lock, body included."""

    def __call__(self, environ, start_response):
        with _LOCK:
            return list(super().__call__(environ, start_response))


server.DomainDispatcherApplication = SerialApplication

if __name__ == "__main__":
    server.main(sys.argv[1:])
