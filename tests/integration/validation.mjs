// Input validation: every boundary of the contract, and nothing stored or changed on a 400.
import assert from "node:assert/strict";
import net from "node:net";
import { describe, it } from "node:test";
import { newUser } from "./harness.mjs";
import { expectError, suite } from "./context.mjs";
import { fillPath, operations, sampleBody } from "./routes.mjs";

const MAX_BODY = 64 * 1024;

describe("create validation", () => {
  const invalid = [
    ["a missing title", { description: "x" }, "title"],
    ["an empty title", { title: "" }, "title"],
    ["a whitespace title", { title: " \t\n " }, "title"],
    ["a null title", { title: null }, "title"],
    ["a numeric title", { title: 42 }, "title"],
    ["a 256-character title", { title: "a".repeat(256) }, "title"],
    ["a 256-character title of multi-byte characters", { title: "é".repeat(256) }, "title"],
    ["a title with a NUL character", { title: "a\u0000b" }, "title"],
    ["a title with a bell character", { title: "ding\u0007" }, "title"],
    ["a title with a vertical tab", { title: "a\u000bb" }, "title"],
    ["a title with DEL", { title: "a\u007f" }, "title"],
    ["a title of Unicode spaces only", { title: "\u00a0\u2003\u3000\u2028" }, "title"],
    ["a numeric description", { title: "t", description: 5 }, "description"],
    ["a 10001-character description", { title: "t", description: "d".repeat(10_001) }, "description"],
    ["a description with U+0001", { title: "t", description: "a\u0001b" }, "description"],
    ["a description of 10,000 × U+0001 (60 KB in JSON)", { title: "t", description: "\u0001".repeat(10_000) }, "description"],
    ["a description with ESC", { title: "t", description: "\u001b[31mred" }, "description"],
    ["a description with DEL", { title: "t", description: "a\u007f" }, "description"],
    ["a description with NUL", { title: "t", description: "a\u0000b" }, "description"],
    ["a string completed", { title: "t", completed: "true" }, "completed"],
    ["a null completed", { title: "t", completed: null }, "completed"],
    ["an unknown field", { title: "t", priority: "high" }, "priority"],
  ];
  for (const [name, body, field] of invalid) {
    it(`refuses ${name} with 400 naming ${field}`, async () => {
      const user = newUser(suite.base);
      const error = await expectError(await user.request("POST", user.tasksUrl, { body }), 400, "validation_error");
      assert.equal(error.field, field);
      assert.match(error.message, new RegExp(field));
      assert.deepEqual(await (await user.request("GET", user.tasksUrl)).json(), [], "nothing stored");
    });
  }

  const malformed = [
    ["invalid JSON", "{\"title\": "],
    ["an array", "[{\"title\":\"t\"}]"],
    ["a string", "\"t\""],
    ["null", "null"],
    ["an empty body", ""],
    ["not JSON at all", "title=t"],
  ];
  for (const [name, raw] of malformed) {
    it(`refuses ${name} with 400`, async () => {
      const user = newUser(suite.base);
      await expectError(await user.request("POST", user.tasksUrl, { raw, headers: { "Content-Type": "application/json" } }), 400, "invalid_json");
      assert.deepEqual(await (await user.request("GET", user.tasksUrl)).json(), []);
    });
  }

  it("trims every kind of whitespace around a title and keeps tab and line breaks inside it", async () => {
    const user = newUser(suite.base);
    for (const [sent, stored] of [
      ["Buy milk\n", "Buy milk"],
      ["\tBuy milk", "Buy milk"],
      ["\u3000 Buy milk\u00a0\r\n", "Buy milk"],
      ["Buy\tmilk", "Buy\tmilk"],
      ["line1\nline2", "line1\nline2"],
      ["line1\r\nline2", "line1\r\nline2"],
    ]) {
      const created = await user.create({ title: sent });
      assert.equal(created.title, stored, JSON.stringify(sent));
      const fetched = await (await user.request("GET", `${user.tasksUrl}/${created.id}`)).json();
      assert.equal(fetched.title, stored, `stored verbatim: ${JSON.stringify(sent)}`);
      const put = await user.request("PUT", `${user.tasksUrl}/${created.id}`, { body: { title: `${sent}\t` } });
      assert.equal((await put.json()).title, stored, `PUT: ${JSON.stringify(sent)}`);
    }
  });

  it("stores a description's tab and line breaks, and its leading and trailing spaces, verbatim", async () => {
    const user = newUser(suite.base);
    const description = "\tline1\r\nline2\n  ";
    const created = await user.create({ title: "t", description });
    assert.equal(created.description, description);
    const fetched = await (await user.request("GET", `${user.tasksUrl}/${created.id}`)).json();
    assert.equal(fetched.description, description);
    const put = await user.request("PUT", `${user.tasksUrl}/${created.id}`, { body: { description: `\r${description}` } });
    assert.equal((await put.json()).description, `\r${description}`);
  });

  it("accepts the boundaries: 255 characters of title, 10000 of description, a null description", async () => {
    const user = newUser(suite.base);
    const task = await user.create({ title: "é".repeat(255), description: "d".repeat(10_000) });
    assert.equal([...task.title].length, 255);
    assert.equal(task.description.length, 10_000);
    assert.equal((await user.create({ title: "t", description: null })).description, null);
  });

  it("refuses a body over 64 KiB with 413, and accepts one just under", async () => {
    const user = newUser(suite.base);
    // One byte over the limit, declared: refused on the declared length before any of the body
    // is read, so none is sent (sending it races the early answer: the worker replies and
    // closes with bytes unread, and the reset can take the response with it).
    const { socket, response } = rawPost(user, MAX_BODY + 1);
    const answer = await response;
    socket.destroy();
    assert.equal(answer.status, 413, answer.head);
    assert.equal(JSON.parse(answer.body).error.code, "payload_too_large");
    // Exactly at the limit: parsed, and then judged on its content.
    const atLimit = JSON.stringify({ title: "t", description: "d".repeat(10_000) }).padEnd(MAX_BODY, " ");
    assert.equal(Buffer.byteLength(atLimit), MAX_BODY);
    assert.equal((await user.request("POST", user.tasksUrl, { raw: atLimit })).status, 201);
  });

  it("refuses an oversized chunked body (no Content-Length) with 413", async () => {
    const user = newUser(suite.base);
    const chunk = new TextEncoder().encode(" ".repeat(16 * 1024));
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 8; i++) controller.enqueue(chunk);
        controller.close();
      },
    });
    const response = await fetch(user.tasksUrl, {
      method: "POST", body: stream, duplex: "half",
      headers: { Authorization: `Bearer ${user.token}`, "Content-Type": "application/json" },
    });
    await expectError(response, 413, "payload_too_large");
  });
});

describe("update validation", () => {
  it("refuses bad PUT bodies and leaves the task unchanged", async () => {
    const user = newUser(suite.base);
    const task = await user.create({ title: "keep", description: "as is" });
    const url = `${user.tasksUrl}/${task.id}`;
    for (const [body, field] of [
      [{ title: "" }, "title"], [{ title: "   " }, "title"], [{ title: "x".repeat(256) }, "title"],
      [{ title: null }, "title"], [{ description: 1 }, "description"], [{ completed: 0 }, "completed"],
      [{ title: "ok", colour: "red" }, "colour"],
      [{ description: "\u0001" }, "description"], [{ description: "a\u001fb" }, "description"],
      [{ title: "ok", description: "ding\u0007" }, "description"],
    ]) {
      const error = await expectError(await user.request("PUT", url, { body }), 400, "validation_error");
      assert.equal(error.field, field, JSON.stringify(body));
    }
    await expectError(await user.request("PUT", url, { raw: "[]" }), 400, "invalid_json");
    await expectError(await user.request("PUT", url, { raw: "{" }), 400, "invalid_json");
    assert.deepEqual(await (await user.request("GET", url)).json(), task);
  });
});

describe("task ids in the path", () => {
  it("must be UUIDs: 400 on every id route", async () => {
    const user = newUser(suite.base);
    assert.ok(operations().some((o) => o.path.includes("{id}")), "the document has id routes");
    for (const id of ["1", "not-a-uuid", "6f0d2d2e3b7c4a8e9d571a2b3c4d5e6f", "6f0d2d2e-3b7c-4a8e-9d57-1a2b3c4d5e6"]) {
      for (const op of operations().filter((o) => o.path.includes("{id}"))) {
        const url = fillPath(op.path, { user_id: user.id, id });
        const error = await expectError(await user.request(op.method, url, { body: sampleBody(op) }), 400, "validation_error");
        assert.equal(error.field, "id", `${op.method} ${op.path} ${id}`);
      }
    }
  });
});

/** Opens a raw HTTP/1.1 connection to the worker and sends the head of a POST whose body is
 *  `length` bytes long; resolves with the socket and a promise of the parsed response. */
function rawPost(user, length) {
  const { hostname, port } = new URL(suite.base);
  const socket = net.connect({ host: hostname, port: Number(port), allowHalfOpen: true });
  const response = new Promise((resolve, reject) => {
    let data = "";
    const finish = () => {
      const head = data.slice(0, data.indexOf("\r\n\r\n"));
      const status = Number(head.split(" ")[1]);
      resolve({ status, head, body: data.slice(head.length + 4), at: Date.now() });
    };
    socket.setEncoding("utf8");
    socket.on("data", (chunk) => {
      data += chunk;
      const end = data.indexOf("\r\n\r\n");
      const length = /content-length: *(\d+)/i.exec(data.slice(0, end))?.[1];
      if (end >= 0 && length !== undefined && data.length >= end + 4 + Number(length)) finish();
    });
    socket.on("end", finish);
    socket.on("error", reject);
  });
  socket.write(
    `POST /api/${user.id}/tasks HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${user.token}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`,
  );
  return { socket, response };
}

describe("slow and cut-off bodies", () => {
  it("answers 408 request_timeout to a body that trickles in, long before it would be complete", { timeout: 60_000 }, async () => {
    // One byte a second of a 40-byte body: complete only after 40 s, 4x the 10 s deadline.
    const user = newUser(suite.base);
    const { socket, response } = rawPost(user, 40);
    let sent = 0;
    const trickle = setInterval(() => {
      if (sent < 39) socket.write(" ", () => {});
      sent++;
    }, 1000);
    try {
      const answer = await response;
      assert.ok(sent < 39, `answered only after ${sent} of 40 bytes were sent`);
      assert.equal(answer.status, 408, answer.head);
      assert.equal(JSON.parse(answer.body).error.code, "request_timeout");
    } finally {
      clearInterval(trickle);
      socket.destroy();
    }
    const list = await user.request("GET", user.tasksUrl);
    assert.deepEqual(await list.json(), [], "nothing was created");
  });

  it("answers a body cut off by the client with 400 body_incomplete, not a server error", async () => {
    const user = newUser(suite.base);
    const { socket, response } = rawPost(user, 40);
    socket.end('{"title":'); // half-close: the client will send nothing more
    const answer = await response;
    socket.destroy();
    assert.equal(answer.status, 400, answer.head);
    assert.equal(JSON.parse(answer.body).error.code, "body_incomplete");
    // Logged as the client's (info), with the runtime's reason kept for the operator.
    const id = /^x-request-id: *(\S+)/im.exec(answer.head)?.[1];
    assert.ok(id, answer.head);
    const line = await suite.worker.requestLog(id);
    assert.equal(line.level, "info", JSON.stringify(line));
    assert.equal(line.error, "body_incomplete", JSON.stringify(line));
    assert.match(line.cause ?? "", /^reading the body: /, JSON.stringify(line));
  });
});
