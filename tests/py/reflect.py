"""Lists a gRPC server's services through server reflection and calls one of them with
the descriptors reflection gave, using grpcio and grpcio-reflection (Python's gRPC, not
written here) over mutual TLS. No .proto file of the project is read.

Usage: python reflect.py HOST:PORT CHAIN.pem CERT.pem KEY.pem SERVER_NAME [SERVICE/METHOD JSON]
(CHAIN.pem: the CA certificates to trust, also sent after the client certificate.)
Prints JSON: {"services": [...], "methods": {service: [method, ...]}, "answer": {...}}.
"""
import json
import sys

import grpc
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)


def main():
    target, ca, cert, key, server_name = sys.argv[1:6]
    call = sys.argv[6:8]
    chain = open(ca, "rb").read()
    creds = grpc.ssl_channel_credentials(
        root_certificates=chain,
        private_key=open(key, "rb").read(),
        certificate_chain=open(cert, "rb").read() + chain,
    )
    channel = grpc.secure_channel(
        target, creds, options=[("grpc.ssl_target_name_override", server_name)]
    )
    db = ProtoReflectionDescriptorDatabase(channel)
    services = sorted(db.get_services())
    pool = DescriptorPool(db)
    methods = {}
    for s in services:
        d = pool.FindServiceByName(s)
        methods[s] = [m.name for m in d.methods]
    out = {"services": services, "methods": methods}
    if call:
        path, body = call
        service, method = path.rsplit("/", 1)
        m = pool.FindServiceByName(service).methods_by_name[method]
        request_cls = message_factory.GetMessageClass(m.input_type)
        response_cls = message_factory.GetMessageClass(m.output_type)
        request = json_format.Parse(body, request_cls())
        rpc = channel.unary_unary(
            f"/{service}/{method}",
            request_serializer=lambda r: r.SerializeToString(),
            response_deserializer=response_cls.FromString,
        )
        answer = rpc(request, timeout=10)
        out["answer"] = json_format.MessageToDict(answer)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
