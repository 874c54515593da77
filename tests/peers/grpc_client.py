"""A gRPC client we did not write: Python grpcio, knowing nothing of our protos.

Discovers a server's services through server reflection, then calls one method
with a JSON request, building the message types from the reflected descriptors.

usage: grpc_client.py TARGET [SERVICE METHOD [JSON_REQUEST]]
  TARGET: host:port, or unix:///path/to/socket
  PORTOS_GRPC_TOKEN in the environment: sent as `authorization: Bearer <token>`
  with every call (reflection, health and the method alike).
Prints one JSON object: {"services": [...], "health": "SERVING", "response": {...}}.
"""

import collections
import json
import os
import sys

import grpc
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)


class _Details(
    collections.namedtuple(
        "_Details", ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression")
    ),
    grpc.ClientCallDetails,
):
    pass


class Bearer(grpc.UnaryUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds `authorization: Bearer <token>` to every call."""

    def __init__(self, token):
        self.header = ("authorization", f"Bearer {token}")

    def _with(self, d):
        metadata = list(d.metadata or []) + [self.header]
        return _Details(d.method, d.timeout, metadata, d.credentials, d.wait_for_ready, d.compression)

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._with(details), request)

    def intercept_stream_stream(self, continuation, details, requests):
        return continuation(self._with(details), requests)


def main() -> int:
    target = sys.argv[1]
    # grpcio sends a Unix socket's path as :authority, which HTTP/2 servers may
    # refuse as malformed; Go's gRPC sends "localhost" there, and so do we.
    options = [("grpc.default_authority", "localhost")] if target.startswith("unix:") else []
    with grpc.insecure_channel(target, options=options) as raw:
        grpc.channel_ready_future(raw).result(timeout=10)
        token = os.environ.get("PORTOS_GRPC_TOKEN")
        channel = grpc.intercept_channel(raw, Bearer(token)) if token else raw
        health = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=10
        )
        out = {"health": health_pb2.HealthCheckResponse.ServingStatus.Name(health.status)}
        db = ProtoReflectionDescriptorDatabase(channel)
        try:
            out["services"] = sorted(db.get_services())
        except grpc.RpcError as e:
            # A server that answers reflection to its owner only.
            out["error"] = {"code": e.code().name, "details": e.details()}
            print(json.dumps(out))
            return 0
        if len(sys.argv) > 3:
            service, method = sys.argv[2], sys.argv[3]
            pool = DescriptorPool(db)
            m = pool.FindServiceByName(service).FindMethodByName(method)
            request_cls = message_factory.GetMessageClass(m.input_type)
            response_cls = message_factory.GetMessageClass(m.output_type)
            request = json_format.Parse(sys.argv[4] if len(sys.argv) > 4 else "{}", request_cls())
            call = channel.unary_unary(
                f"/{service}/{method}",
                request_serializer=request_cls.SerializeToString,
                response_deserializer=response_cls.FromString,
            )
            try:
                response = call(request, timeout=10)
                out["response"] = json_format.MessageToDict(response)
            except grpc.RpcError as e:
                out["error"] = {"code": e.code().name, "details": e.details()}
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
