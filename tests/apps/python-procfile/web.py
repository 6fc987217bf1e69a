"""A Python app with no requirements.txt: a Procfile that runs python, and Heroku's compile hooks."""

import os
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        hooks = " ".join(open(name).read().strip() for name in ("pre.txt", "post.txt"))
        body = f"python without requirements says hello ({hooks})\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
