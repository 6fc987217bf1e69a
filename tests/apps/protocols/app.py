"""Protocols test app for ponton's tests: one process, four listeners.

$PORT (HTTP)  GET / -> "protocols from HOSTNAME"; GET /ws upgrades to a websocket that echoes every text frame
7000/tcp      echoes every byte it receives
7000/udp      answers every datagram with "HOSTNAME: " and the datagram
50051 (gRPC)  /echo.Echo/Say (raw bytes in and out) answers "HOSTNAME: " and the request
"""

import base64
import hashlib
import os
import signal
import socket
import socketserver
import struct
import sys
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc

HOST = socket.gethostname()
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Http(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/ws" and self.headers.get("Upgrade", "").lower() == "websocket":
            return self.websocket()
        body = f"protocols from {HOST}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def websocket(self):
        accept = base64.b64encode(hashlib.sha1((self.headers["Sec-WebSocket-Key"] + WS_GUID).encode()).digest())
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept.decode())
        self.end_headers()
        self.wfile.flush()
        while True:
            header = self.rfile.read(2)
            if len(header) < 2:
                break
            opcode, length = header[0] & 0x0F, header[1] & 0x7F
            if length == 126:
                length = struct.unpack("!H", self.rfile.read(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", self.rfile.read(8))[0]
            mask = self.rfile.read(4) if header[1] & 0x80 else b"\0\0\0\0"
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(length)))
            if opcode == 0x8:  # close: answer it and end
                self.wfile.write(b"\x88\x00")
                break
            if opcode == 0x1:  # text: echo it, unmasked (server frames are never masked)
                size = len(payload)
                prefix = bytes([0x81, size]) if size < 126 else bytes([0x81, 126]) + struct.pack("!H", size)
                self.wfile.write(prefix + payload)
                self.wfile.flush()
        self.close_connection = True

    def log_message(self, format, *args):
        pass


class TcpEcho(socketserver.BaseRequestHandler):
    def handle(self):
        while data := self.request.recv(65536):
            self.request.sendall(data)


class UdpEcho(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(f"{HOST}: ".encode() + data, self.client_address)


def say(request: bytes, context) -> bytes:
    return f"{HOST}: ".encode() + request


def main():
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.daemon_threads = True
    for server in (socketserver.ThreadingTCPServer(("0.0.0.0", 7000), TcpEcho),
                   socketserver.ThreadingUDPServer(("0.0.0.0", 7000), UdpEcho)):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    grpc_server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
        "echo.Echo", {"Say": grpc.unary_unary_rpc_method_handler(say)})])
    grpc_server.add_insecure_port("0.0.0.0:50051")
    grpc_server.start()
    http = ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Http)
    http.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"listening on {os.environ['PORT']} (http), 7000 (tcp, udp), 50051 (grpc)", flush=True)
    http.serve_forever()


main()
