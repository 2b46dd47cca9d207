// SPDX-License-Identifier: MIT
// An independent NATS client (the npm `nats` package) exercises a server: pub/sub, queue groups,
// request/reply, headers, no_responders and drain. Prints TAP; exits 1 on failure.
// usage: node nats-npm-check.js HOST:PORT   (NATS_MODULE = path of the installed nats package)
"use strict";
const { connect, StringCodec, headers, Empty, ErrorCode } = require(process.env.NATS_MODULE || "nats");

const sc = StringCodec();
let n = 0;
let failed = 0;
function ok(cond, name, detail) {
	n++;
	if (!cond) failed++;
	console.log(`${cond ? "ok" : "not ok"} ${n} - ${name}`);
	if (!cond && detail !== undefined) console.log(`#   ${detail}`);
}

async function collect(sub, count, ms) {
	const got = [];
	const timer = setTimeout(() => sub.unsubscribe(), ms);
	for await (const m of sub) {
		got.push(m);
		if (got.length === count) break;
	}
	clearTimeout(timer);
	return got;
}

async function main() {
	const server = process.argv[2];
	const nc = await connect({ servers: server, name: "npm-check" });
	ok(nc.info && nc.info.headers === true, "connected; INFO announces headers");

	// pub/sub with a wildcard
	const sub = nc.subscribe("npm.*");
	const p = collect(sub, 2, 3000);
	nc.publish("npm.a", sc.encode("one"));
	nc.publish("npm.b", sc.encode("two"));
	const got = await p;
	ok(got.length === 2 && sc.decode(got[0].data) === "one" && got[1].subject === "npm.b", "pub/sub with *");

	// queue group: 100 messages, each delivered to exactly one of three members
	const counts = [0, 0, 0];
	const qsubs = counts.map((_, i) => nc.subscribe("npm.work", { queue: "workers", callback: () => counts[i]++ }));
	for (let i = 0; i < 100; i++) nc.publish("npm.work", sc.encode(String(i)));
	await nc.flush();
	await new Promise((r) => setTimeout(r, 200));
	const total = counts.reduce((a, b) => a + b, 0);
	ok(total === 100, "queue group: every message delivered once", `counts ${counts}`);
	ok(counts.filter((c) => c > 0).length > 1, "queue group: spread over members", `counts ${counts}`);
	qsubs.forEach((s) => s.unsubscribe());

	// request/reply from a second connection
	const nc2 = await connect({ servers: server, name: "npm-responder" });
	nc2.subscribe("npm.svc", { callback: (err, m) => m.respond(sc.encode("pong:" + sc.decode(m.data))) });
	await nc2.flush();
	const reply = await nc.request("npm.svc", sc.encode("ping"), { timeout: 2000 });
	ok(sc.decode(reply.data) === "pong:ping", "request/reply across connections");

	// headers
	const hsub = nc.subscribe("npm.h");
	const hp = collect(hsub, 1, 3000);
	const h = headers();
	h.append("X-Dew", "yes");
	nc.publish("npm.h", sc.encode("body"), { headers: h });
	const hm = (await hp)[0];
	ok(hm && hm.headers && hm.headers.get("X-Dew") === "yes" && sc.decode(hm.data) === "body", "headers round trip");

	// no responders: fails fast with 503
	const t0 = Date.now();
	try {
		await nc.request("npm.nobody", Empty, { timeout: 5000 });
		ok(false, "no_responders rejects the request");
	} catch (err) {
		ok(err.code === ErrorCode.NoResponders, "no_responders rejects the request", `code ${err.code}`);
		ok(Date.now() - t0 < 4000, "no_responders arrives before the timeout");
	}

	// drain: pending messages are delivered before the connection closes
	let drained = 0;
	nc2.subscribe("npm.drain", { callback: () => drained++ });
	await nc2.flush();
	for (let i = 0; i < 50; i++) nc.publish("npm.drain", Empty);
	await nc.flush();
	await nc2.drain();
	ok(drained === 50, "drain delivers everything pending", `got ${drained}`);
	await nc.drain();
	ok(nc.isClosed(), "connection closed after drain");
	console.log(`1..${n}`);
	process.exit(failed ? 1 : 0);
}

main().catch((err) => {
	console.log(`not ok ${n + 1} - unexpected error: ${err && err.message}`);
	console.log(`1..${n + 1}`);
	process.exit(1);
});
