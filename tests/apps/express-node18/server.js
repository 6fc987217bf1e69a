// Express test app: answers on $PORT, as ponton's default `web` (npm start) runs it.
const express = require("express");

const app = express();
app.get("/", (req, res) => res.send(`express says hello from node ${process.version}\n`));
const server = app.listen(process.env.PORT);
process.on("SIGTERM", () => server.close());
