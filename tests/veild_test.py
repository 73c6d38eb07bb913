#!/usr/bin/env python3
"""
veild_test.py: integration tests of the exchange daemon (veild) through its
wire protocol, docs/protocol.md, with a msgpack-RPC client of its own that
shares nothing with veil's C code. Run from the top of the tree (make test
does, with B set to the build directory):

    B=build python3 tests/veild_test.py [-k SUBSTRING] [--keep]

Each test makes a fresh exchange (`veil init --home` in a temporary
folder), starts `B/veild` on it and stops it at the end (SIGTERM; a stop
that does not exit 0 fails, which catches sanitizer reports in the asan
build). Every check prints PASS or FAIL with its name; the last line is
"N passed, M failed" as in tests/run.sh, and the exit status is non-zero
on any failure.

The tests: 1. the whole flow on the clinic example; 2. the authorization
matrix (role x method x own/other object, from a table); 3. malformed,
oversized, slow and abandoned clients; 4. kill -9 at random points, with
invariants checked in the API and in the SQLite file; 5. 32 clients x 100
jobs; 6. recovery after SIGTERM with jobs queued; 7. semantics (exists,
limits, failed jobs, bad uploads, revoke).

Needs only python3 and python3-msgpack (Debian).
"""
import argparse
import hashlib
import os
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from decimal import Decimal

try:
	import msgpack
except ImportError:
	# A python3 of its own (pyenv, venv) does not see Debian's packages.
	sys.path.append("/usr/lib/python3/dist-packages")
	import msgpack

B = os.environ.get("B", "build")
VEILD = os.path.join(B, "veild")
VEIL = os.path.join(B, "veil")
CLINIC_GEN = os.path.join(B, "clinic-gen")
# Sanitizer builds are several times slower: every timeout scales.
SCALE = float(os.environ.get("VEILD_TEST_SCALE", "5" if "asan" in B else "1"))
WORKERS = os.cpu_count() or 2
KEEP = False

INTERNAL, BAD_REQUEST, JOB_FAILED, REFUSED, UNAUTHENTICATED, FORBIDDEN, \
    NOT_FOUND, EXISTS, TOO_LARGE, SHUTTING_DOWN = range(1, 11)
ERR_NAMES = {1: "internal", 2: "bad_request", 3: "job_failed", 4: "refused",
    5: "unauthenticated", 6: "forbidden", 7: "not_found", 8: "exists",
    9: "too_large", 10: "shutting_down"}

SCHEMA = open("examples/clinic/schema.lua").read()
POLICY = open("examples/clinic/policy.lua").read()
# examples/clinic/policy.lua admits only these buyers, for these purposes.
BUYER_A = "acme-insurance"
BUYER_B = "cityhealth-research"
PURPOSE = "actuarial research"

# The job of the whole-flow test: a count and a bounded mean.
FLOW_JOB = """
local v = veil.dataset()
return {
  n = v:count(),
  mean_cost = v:mean("cost", 0, 20000),
}
"""
COUNT_JOB = """
local v = veil.dataset()
return { n = v:count() }
"""
# About 30,000 VM instructions per row (under the 100,000 cap): a job that
# takes a noticeable time (~0.1 s) on 2,000 rows, so that some stay queued.
SLOW_JOB = """
local v = veil.dataset()
local slow = v:filter(function(r)
  local s = 0
  for i = 1, 8000 do s = s + i end
  return r.cost * 0 + s > 0
end)
return { n = slow:count() }
"""


def err_name(code):
	return "%s (%s)" % (code, ERR_NAMES.get(code, "?"))


def schema_named(name):
	"""The clinic schema, with its name set to the data set's."""
	s = SCHEMA.replace('name = "clinic_visits"', 'name = "%s"' % name, 1)
	assert 'name = "%s"' % name in s
	return s


def dp_policy(per_job, total):
	return ("return { mode = \"dp\", epsilon = { per_job = %s, total = %s },"
	    " delta = 1e-7, max_rows_per_unit = 5 }\n" % (per_job, total))


# ---------------------------------------------------------------------------
# Results

class Results:
	def __init__(self):
		self.passed = 0
		self.failed = 0
		self.failing = []
		self.lock = threading.Lock()

	def check(self, name, ok, detail=""):
		with self.lock:
			if ok:
				self.passed += 1
				print("PASS %s" % name, flush=True)
			else:
				self.failed += 1
				self.failing.append(name)
				print("FAIL %s%s" % (name, ": " + detail if detail
				    else ""), flush=True)
		return ok


R = Results()


class Checks:
	"""Collects the problems of one named check, then reports it once."""

	def __init__(self, name):
		self.name = name
		self.problems = []

	def expect(self, cond, what):
		if not cond:
			self.problems.append(what)
		return cond

	def done(self, limit=40):
		detail = ""
		if self.problems:
			shown = self.problems[:limit]
			detail = "\n    " + "\n    ".join(str(p) for p in shown)
			if len(self.problems) > limit:
				detail += "\n    ... and %d more" % (
				    len(self.problems) - limit)
		return R.check(self.name, not self.problems, detail)


# ---------------------------------------------------------------------------
# A msgpack-RPC client, written from docs/protocol.md alone.

class RpcError(Exception):
	def __init__(self, method, code, message):
		super().__init__("%s: error %s: %s" % (method, err_name(code),
		    message))
		self.method = method
		self.code = code
		self.message = message


class ProtocolError(Exception):
	pass


class Closed(ProtocolError):
	pass


def error_code(err):
	if isinstance(err, dict) and isinstance(err.get("code"), int):
		return err["code"], err.get("message")
	raise ProtocolError("error is not {code, message}: %r" % (err,))


def check_response(msg):
	if not (isinstance(msg, list) and len(msg) == 4 and msg[0] == 1 and
	    isinstance(msg[1], int)):
		raise ProtocolError("not a response [1, id, error, result]: %r" %
		    (msg,))
	if msg[2] is not None:
		error_code(msg[2])


class Client:
	def __init__(self, path, token=None, timeout=None):
		self.timeout = timeout if timeout is not None else 60 * SCALE
		self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
		self.sock.settimeout(self.timeout)
		self.sock.connect(path)
		self.packer = msgpack.Packer(use_bin_type=True)
		self.unpacker = msgpack.Unpacker(raw=False, strict_map_key=False,
		    max_buffer_size=512 << 20)
		self.next_id = 1
		self.early = {}
		self.party = self.role = None
		if token is not None:
			r = self.call("auth", token=token)
			self.party, self.role = r.get("party"), r.get("role")

	def close(self):
		try:
			self.sock.close()
		except OSError:
			pass

	def send_raw(self, data):
		self.sock.sendall(data)

	def send(self, method, params=None, msgid=None):
		if msgid is None:
			msgid = self.next_id
			self.next_id = self.next_id % 0xffffffff + 1
		self.sock.sendall(self.packer.pack([0, msgid, method,
		    {} if params is None else params]))
		return msgid

	def read_message(self):
		"""The next message on the stream, or None at end of stream."""
		while True:
			try:
				return next(self.unpacker)
			except StopIteration:
				pass
			try:
				data = self.sock.recv(1 << 16)
			except ConnectionResetError:
				return None
			if not data:
				return None
			self.unpacker.feed(data)

	def reply(self, msgid, method="?"):
		"""(error, result) of request msgid; others' are kept."""
		while msgid not in self.early:
			msg = self.read_message()
			if msg is None and self.early.get(0, (None,))[0] is not None:
				# The one error answer to a request veild could not
				# read (id 0), then the close: that is its answer.
				return self.early.pop(0)
			if msg is None:
				raise Closed("%s: veild closed the connection "
				    "before answering" % method)
			check_response(msg)
			self.early[msg[1]] = (msg[2], msg[3])
		return self.early.pop(msgid)

	def call_raw(self, method, params=None):
		return self.reply(self.send(method, params), method)

	def call(self, method, params=None, **kw):
		params = dict(params or {}, **kw)
		err, res = self.call_raw(method, params)
		if err is not None:
			code, message = error_code(err)
			raise RpcError(method, code, message)
		return res

	def try_call(self, method, params=None, **kw):
		"""(None, result) or (code, message)."""
		try:
			return None, self.call(method, params, **kw)
		except RpcError as e:
			return e.code, e.message

	def is_closed(self, wait=None):
		"""True when veild has closed the connection (EOF or reset)
		within wait seconds; False if it is still open."""
		self.sock.settimeout(wait if wait is not None else 5 * SCALE)
		try:
			while True:
				data = self.sock.recv(1 << 16)
				if not data:
					return True
				self.unpacker.feed(data)
		except (ConnectionResetError, BrokenPipeError):
			return True
		except (socket.timeout, BlockingIOError):
			return False
		finally:
			self.sock.settimeout(self.timeout)


# ---------------------------------------------------------------------------
# The exchange: a home made by `veil init`, and veild running on it.

class SetupError(Exception):
	pass


def make_home(base):
	home = os.path.join(base, "home")
	try:
		p = subprocess.run([VEIL, "init", "--home", home],
		    capture_output=True, text=True, timeout=60 * SCALE)
	except OSError as e:
		raise SetupError("cannot run %s init: %s" % (VEIL, e))
	if p.returncode != 0:
		raise SetupError("veil init --home %s: exit %d: %s" % (home,
		    p.returncode, (p.stderr or p.stdout).strip()))
	tokens = re.findall(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}"
	    r"(?![A-Za-z0-9_-])", p.stdout)
	if not tokens:
		raise SetupError("veil init printed no 43-character token: %r" %
		    p.stdout)
	return home, tokens[-1]


class Daemon:
	def __init__(self, home, log, workers=WORKERS, tick_ms=None,
	    extra=()):
		self.home = home
		self.sock = os.path.join(home, "veil.sock")
		self.log = log
		self.args = [VEILD, "--home", home, "--workers", str(workers)]
		if tick_ms is not None:
			self.args += ["--tick-ms", str(tick_ms)]
		self.args += list(extra)
		self.proc = None
		self.starts = 0

	def start(self, timeout=None):
		timeout = timeout or 30 * SCALE
		with open(self.log, "ab") as f:
			f.write(b"--- start %d\n" % self.starts)
			offset = f.tell()
		self.starts += 1
		logf = open(self.log, "ab")
		self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
		    stdout=logf, stderr=logf)
		logf.close()
		want = "veild: listening on %s" % self.sock
		deadline = time.monotonic() + timeout
		while True:
			with open(self.log, "rb") as f:
				f.seek(offset)
				text = f.read().decode("utf-8", "replace")
			if want in text:
				return
			rc = self.proc.poll()
			if rc is not None:
				raise SetupError("veild exited %d before listening:"
				    "\n%s" % (rc, self.tail()))
			if time.monotonic() > deadline:
				self.kill9()
				raise SetupError("veild did not print \"%s\" within "
				    "%.0f s:\n%s" % (want, timeout, self.tail()))
			time.sleep(0.01)

	def alive(self):
		return self.proc is not None and self.proc.poll() is None

	def stop(self, timeout=None):
		"""SIGTERM; returns veild's exit status (None if it had to be
		killed after timeout)."""
		if self.proc is None:
			return 0
		if self.proc.poll() is None:
			self.proc.send_signal(signal.SIGTERM)
		try:
			rc = self.proc.wait(timeout or 60 * SCALE)
		except subprocess.TimeoutExpired:
			self.kill9()
			rc = None
		self.proc = None
		return rc

	def kill9(self):
		if self.proc is not None:
			if self.proc.poll() is None:
				self.proc.kill()
			self.proc.wait()
			self.proc = None

	def tail(self, n=25):
		try:
			with open(self.log, "rb") as f:
				lines = f.read().decode("utf-8", "replace")
		except OSError:
			return ""
		return "\n".join("      | " + l for l in
		    lines.splitlines()[-n:])


_seq = [0]


def fresh(prefix):
	_seq[0] += 1
	return "%s%d" % (prefix, _seq[0])


class Exchange:
	"""with Exchange("name") as x: a fresh home and veild, stopped (and
	checked to stop cleanly) at the end."""

	def __init__(self, tag, workers=WORKERS, tick_ms=None, start=True):
		self.tag = tag
		self.dir = tempfile.mkdtemp(prefix="veild-%s-" % tag)
		self.home, self.op_token = make_home(self.dir)
		self.daemon = Daemon(self.home, os.path.join(self.dir,
		    "veild.log"), workers, tick_ms)
		self.tokens = {"operator": self.op_token}
		self.clients = []
		self._op = None
		self.failed_before = R.failed
		if start:
			self.daemon.start()

	def __enter__(self):
		return self

	def __exit__(self, et, ev, tb):
		for c in self.clients:
			c.close()
		running = self.daemon.proc is not None
		rc = self.daemon.stop()
		if running:
			R.check("%s: veild exits 0 on SIGTERM" % self.tag, rc == 0,
			    "exit status %s\n%s" % (rc, self.daemon.tail()))
		bad = et is not None or R.failed > self.failed_before
		if bad:
			print("    (veild log %s)\n%s" % (self.daemon.log,
			    self.daemon.tail(15)))
		if KEEP or (bad and os.environ.get("VEILD_TEST_KEEP")):
			print("    (kept %s)" % self.dir)
		else:
			shutil.rmtree(self.dir, ignore_errors=True)
		return False

	@property
	def sock(self):
		return self.daemon.sock

	def connect(self, who=None, timeout=None):
		"""A client authenticated as who (a party name or "operator"),
		or unauthenticated when who is None."""
		c = Client(self.sock, self.tokens[who] if who else None, timeout)
		self.clients.append(c)
		return c

	@property
	def op(self):
		if self._op is None:
			self._op = self.connect("operator")
		return self._op

	def add_party(self, name, role):
		r = self.op.call("party.add", name=name, role=role)
		self.tokens[name] = r["token"]
		return r

	def db(self):
		"""The catalog, read-only."""
		return sqlite3.connect("file:%s?mode=ro" % os.path.join(self.home,
		    "veil.db"), uri=True, timeout=30)


class Data:
	"""clinic-gen CSVs, made once per run."""

	def __init__(self):
		self.dir = tempfile.mkdtemp(prefix="veild-data-")
		self.cache = {}

	def clinic(self, rows, seed=1):
		key = (rows, seed)
		if key not in self.cache:
			path = os.path.join(self.dir, "clinic_%d_%d.csv" % key)
			subprocess.run([CLINIC_GEN, "--rows", str(rows), "--seed",
			    str(seed), "--out", path], check=True,
			    timeout=60 * SCALE)
			with open(path, "rb") as f:
				self.cache[key] = f.read()
		return self.cache[key]

	def cleanup(self):
		shutil.rmtree(self.dir, ignore_errors=True)


DATA = None


def register(prov, name, csv, policy=POLICY, chunk=512 * 1024, schema=None):
	"""dataset.register and every chunk; returns the upload id."""
	up = prov.call("dataset.register", name=name, schema=schema or
	    schema_named(name), policy=policy, size=len(csv))["upload"]
	off = 0
	while off < len(csv):
		piece = csv[off:off + chunk]
		r = prov.call("dataset.upload", upload=up, offset=off, data=piece)
		off += len(piece)
		if r.get("received") != off:
			raise ProtocolError("dataset.upload: received %r, sent %d"
			    % (r.get("received"), off))
	return up


def publish(x, prov, name, csv, grants=(), policy=POLICY, chunk=512 * 1024):
	"""Registers, commits, approves and grants a data set."""
	up = register(prov, name, csv, policy, chunk)
	prov.call("dataset.commit", upload=up)
	x.op.call("dataset.approve", name=name)
	for buyer, eps in grants:
		prov.call("grant", dataset=name, buyer=buyer, epsilon=eps,
		    purpose=PURPOSE)


def wait_end(c, job, timeout_s=None):
	"""job.wait until the job ends; returns its status."""
	deadline = time.monotonic() + (timeout_s or 120 * SCALE)
	while True:
		st = c.call("job.wait", job=job, timeout_ms=10000)
		if st.get("state") in ("done", "failed", "refused"):
			return st
		if time.monotonic() > deadline:
			return st
	

def dec(s):
	return Decimal(str(s))


def packed(obj):
	return msgpack.packb(obj, use_bin_type=True)


def audit_hash(prev, rec):
	"""The chain of sandbox/catalog.c: SHA-256(prev || seq || time ||
	length-prefixed actor, action, object, detail), big-endian."""
	h = hashlib.sha256()
	h.update(prev)
	h.update(int(rec["seq"]).to_bytes(8, "big", signed=True))
	h.update(int(rec["time"]).to_bytes(8, "big", signed=True))
	for k in ("actor", "action", "object", "detail"):
		b = str(rec[k]).encode()
		h.update(len(b).to_bytes(4, "big"))
		h.update(b)
	return h.digest()


def hash_bytes(v):
	if isinstance(v, bytes):
		return v
	if isinstance(v, str):
		try:
			return bytes.fromhex(v)
		except ValueError:
			return v.encode()
	return repr(v).encode()


# ---------------------------------------------------------------------------
# 1. The whole flow

def test_flow():
	with Exchange("flow") as x:
		c = Checks("flow: socket mode 0660, one veild per home")
		mode = os.stat(x.sock).st_mode & 0o777
		c.expect(mode == 0o660, "veil.sock mode %o" % mode)
		p = subprocess.run([VEILD, "--home", x.home],
		    stdin=subprocess.DEVNULL, capture_output=True,
		    timeout=30 * SCALE)
		c.expect(p.returncode != 0, "a second veild on the same home "
		    "started (exit %d)" % p.returncode)
		healthy(x, c)
		c.done()

		c = Checks("flow: parties, registration, approval, grant")
		op = x.op
		c.expect(op.role == "operator" and op.party == "operator",
		    "auth as operator answered party %r role %r" % (op.party,
		    op.role))
		for name, role in (("clinic-provider", "provider"),
		    (BUYER_A, "buyer"), ("audit-office", "auditor")):
			r = x.add_party(name, role)
			c.expect(r.get("name") == name and r.get("role") == role,
			    "party.add answered %r" % r)
			c.expect(isinstance(r.get("token"), str) and
			    len(r["token"]) >= 32, "party.add token %r" %
			    r.get("token"))
		pl = {p["name"]: p["role"] for p in
		    op.call("party.list")["parties"]}
		c.expect(pl == {"operator": "operator", "clinic-provider":
		    "provider", BUYER_A: "buyer", "audit-office": "auditor"},
		    "party.list: %r" % pl)
		prov = x.connect("clinic-provider")
		buyer = x.connect(BUYER_A)
		aud = x.connect("audit-office")
		c.expect((prov.party, prov.role) == ("clinic-provider",
		    "provider"), "auth answered %r %r" % (prov.party, prov.role))
		c.expect((buyer.party, buyer.role) == (BUYER_A, "buyer"),
		    "auth answered %r %r" % (buyer.party, buyer.role))

		# More than 512 KiB: several chunks, the last one short.
		csv = DATA.clinic(5000)
		name = "clinic_visits"
		up = prov.call("dataset.register", name=name,
		    schema=schema_named(name), policy=POLICY, size=len(csv))
		c.expect("upload" in up, "dataset.register answered %r" % up)
		up = up["upload"]
		off = 0
		while off < len(csv):
			piece = csv[off:off + 512 * 1024]
			r = prov.call("dataset.upload", upload=up, offset=off,
			    data=piece)
			off += len(piece)
			c.expect(r.get("received") == off, "dataset.upload "
			    "answered %r after %d bytes" % (r, off))
		cm = prov.call("dataset.commit", upload=up)
		c.expect(cm.get("dataset") == name and cm.get("state") ==
		    "pending" and cm.get("rows") == 5000 and
		    isinstance(cm.get("columns"), int) and
		    isinstance(cm.get("digest"), str) and cm["digest"],
		    "dataset.commit answered %r" % cm)

		def visible():
			names = [d["name"] for d in
			    buyer.call("dataset.list")["datasets"]]
			code, _ = buyer.try_call("dataset.show", name=name)
			return name in names, code

		v, code = visible()
		c.expect(not v and code == NOT_FOUND, "pending, ungranted: "
		    "buyer sees it in list: %s, dataset.show: %s" % (v,
		    err_name(code) if code else "success"))
		code, _ = buyer.try_call("job.submit", dataset=name,
		    source=FLOW_JOB)
		c.expect(code == NOT_FOUND, "job.submit on an invisible data "
		    "set: %s, expected not_found" % (err_name(code) if code else
		    "success"))
		sh = prov.call("dataset.show", name=name)
		c.expect(sh.get("state") == "pending" and sh.get("provider") ==
		    "clinic-provider", "provider's dataset.show: %r" % sh)
		ap = op.call("dataset.approve", name=name)
		c.expect(ap == {"name": name, "state": "approved"} or
		    (ap.get("name") == name and ap.get("state") == "approved"),
		    "dataset.approve answered %r" % ap)
		v, code = visible()
		c.expect(not v and code == NOT_FOUND, "approved, ungranted: "
		    "buyer sees it in list: %s, dataset.show: %s" % (v,
		    err_name(code) if code else "success"))
		g = prov.call("grant", dataset=name, buyer=BUYER_A, epsilon="2",
		    purpose=PURPOSE)
		c.expect(g.get("dataset") == name and g.get("buyer") == BUYER_A
		    and dec(g.get("epsilon")) == 2, "grant answered %r" % g)
		v, code = visible()
		c.expect(v and code is None, "granted and approved: buyer sees "
		    "it in list: %s, dataset.show: %s" % (v, err_name(code) if
		    code else "success"))
		sh = buyer.call("dataset.show", name=name)
		for k in ("name", "provider", "state", "rows", "columns",
		    "digest", "mode", "epsilon_total", "epsilon_spent",
		    "created", "approved"):
			c.expect(k in sh, "dataset.show lacks %s: %r" % (k, sh))
		c.expect(sh.get("mode") == "dp" and sh.get("state") ==
		    "approved" and dec(sh.get("epsilon_spent")) == 0 and
		    sh.get("digest") == cm.get("digest"), "dataset.show: %r" % sh)
		bud = buyer.call("budget", dataset=name)["budgets"]
		c.expect(len(bud) == 1 and dec(bud[0]["granted"]) == 2 and
		    dec(bud[0]["spent"]) == 0 and dec(bud[0]["left"]) == 2,
		    "buyer's budget before any job: %r" % bud)
		c.done()

		c = Checks("flow: python client completes a job")
		sub = buyer.call("job.submit", dataset=name, source=FLOW_JOB)
		c.expect(sub.get("state") == "queued" and "job" in sub,
		    "job.submit answered %r" % sub)
		job = sub["job"]
		st = wait_end(buyer, job)
		c.expect(st.get("state") == "done", "job.wait: %r" % st)
		for k in ("job", "dataset", "state", "epsilon", "submitted"):
			c.expect(k in st, "job.status lacks %s: %r" % (k, st))
		eps = dec(st.get("epsilon", "0.5"))
		c.expect(eps == Decimal("0.5"), "job epsilon %s, expected the "
		    "policy's per_job 0.5" % eps)
		r1 = buyer.call("job.result", job=job)
		r2 = buyer.call("job.result", job=job)
		for k in ("job", "dataset", "epsilon", "results", "stats"):
			c.expect(k in r1, "job.result lacks %s: %r" % (k, r1))
		res = r1.get("results") or {}
		c.expect(isinstance(res, dict) and "n" in res and
		    "mean_cost" in res, "results: %r" % res)
		c.expect(packed(r1) == packed(r2), "two fetches differ:\n%r\n%r"
		    % (r1, r2))
		st2 = op.call("job.status", job=job)
		c.expect(st2.get("state") == "done", "operator's job.status %r"
		    % st2)
		c.done()

		c = Checks("flow: budget spent equals the job's epsilon")
		bud = buyer.call("budget")["budgets"]
		row = [b for b in bud if b.get("dataset") == name]
		c.expect(len(row) == 1, "buyer's budget rows: %r" % bud)
		if row:
			b = row[0]
			c.expect(dec(b["spent"]) == eps and dec(b["granted"]) == 2
			    and dec(b["left"]) == 2 - eps and b.get("buyer") ==
			    BUYER_A, "buyer's budget: %r" % b)
		obud = op.call("budget", dataset=name)["budgets"]
		star = [b for b in obud if b.get("buyer") == "*"]
		mine = [b for b in obud if b.get("buyer") == BUYER_A]
		c.expect(len(star) == 1 and dec(star[0]["spent"]) == eps and
		    dec(star[0]["granted"]) == dec(sh.get("epsilon_total", -1)),
		    "operator's budget '*' row: %r (epsilon_total %r)" % (star,
		    sh.get("epsilon_total")))
		c.expect(len(mine) == 1 and dec(mine[0]["spent"]) == eps,
		    "operator's budget buyer row: %r" % mine)
		sh = buyer.call("dataset.show", name=name)
		c.expect(dec(sh.get("epsilon_spent")) == eps,
		    "dataset.show epsilon_spent %r" % sh.get("epsilon_spent"))
		us = op.call("usage")["usage"]
		u = [r for r in us if r.get("dataset") == name and
		    r.get("buyer") == BUYER_A]
		c.expect(len(u) == 1 and u[0].get("jobs") == 1 and
		    u[0].get("done") == 1 and
		    dec(u[0].get("epsilon_spent")) == eps, "usage: %r" % us)
		c.done()

		c = Checks("flow: auditor sees the audit chain, verify ok")
		recs = aud.call("audit.tail", n=1000)["records"]
		c.expect(len(recs) >= 7, "audit.tail: %d records" % len(recs))
		for rec in recs:
			for k in ("seq", "time", "actor", "action", "object",
			    "detail", "hash"):
				if not c.expect(k in rec, "record lacks %s: %r" %
				    (k, rec)):
					break
		recs = sorted(recs, key=lambda r: r.get("seq", 0))
		seqs = [r.get("seq") for r in recs]
		c.expect(seqs == list(range(1, len(recs) + 1)), "seqs %r" % seqs)
		text = " ".join("%s %s %s %s" % (r.get("actor"), r.get("action"),
		    r.get("object"), r.get("detail")) for r in recs)
		for what in (name, "clinic-provider", BUYER_A, "audit-office",
		    str(job)):
			c.expect(what in text, "no audit record names %r" % what)
		if recs and seqs[0] == 1 and not c.problems:
			prev = b"\0" * 32
			for r in recs:
				h = audit_hash(prev, r)
				if not c.expect(h == hash_bytes(r["hash"]),
				    "record %s: hash %r, recomputed %s" % (r["seq"],
				    r["hash"], h.hex())):
					break
				prev = h
		ver = aud.call("audit.verify")
		c.expect(ver.get("ok") is True and ver.get("records") ==
		    len(recs) and ver.get("first_bad") in (None, 0),
		    "audit.verify: %r (tail had %d)" % (ver, len(recs)))
		# Reading changes nothing: two tails agree.
		recs2 = aud.call("audit.tail", n=3)["records"]
		c.expect([r["seq"] for r in recs2] == seqs[-3:] or
		    sorted(r["seq"] for r in recs2) == seqs[-3:],
		    "audit.tail n=3: %r" % [r.get("seq") for r in recs2])
		c.done()


# ---------------------------------------------------------------------------
# 2. Authorization matrix

ROLES = ("operator", "provA", "provB", "buyA", "buyB", "auditor", "unauth")
KIND = {"operator": "operator", "provA": "provider", "provB": "provider",
    "buyA": "buyer", "buyB": "buyer", "auditor": "auditor", "unauth": None}
SIDE = {"provA": "A", "provB": "B", "buyA": "A", "buyB": "B"}
PARTY = {"operator": "operator", "provA": "prov-a", "provB": "prov-b",
    "buyA": BUYER_A, "buyB": BUYER_B, "auditor": "auditor-1"}


class Matrix:
	"""The fixtures of the matrix: each side (A, B) has a provider, a
	buyer, an approved data set granted to that buyer, a pending one and
	a done job; stateful methods get fresh objects per cell."""

	def __init__(self, x):
		self.x = x
		self.csv = DATA.clinic(300, seed=3)
		self.owner = {}
		for r in ROLES[:-1]:
			if r != "operator":
				x.add_party(PARTY[r], KIND[r])
		self.adm = {s: x.connect(PARTY["prov" + s]) for s in "AB"}
		self.buy = {s: x.connect(PARTY["buy" + s]) for s in "AB"}
		self.callers = {}
		self.ds, self.pending, self.job = {}, {}, {}
		for s in "AB":
			self.ds[s] = self.dataset(s, approve=True, grant=True)
			self.pending[s] = self.dataset(s, approve=False)
		for s in "AB":
			j = self.buy[s].call("job.submit", dataset=self.ds[s],
			    source=COUNT_JOB, epsilon="0.01")["job"]
			st = wait_end(self.buy[s], j)
			if st.get("state") != "done":
				raise SetupError("fixture job %r: %r" % (j, st))
			self.job[s] = j

	def caller(self, role):
		if role == "unauth":
			# Fresh each time: failures may close a connection.
			return self.x.connect(None)
		c = self.callers.get(role)
		if c is None or c.is_closed(0):
			c = self.callers[role] = self.x.connect(PARTY[role])
		return c

	def upload(self, s, full=False):
		name = fresh("m%s_" % s.lower())
		self.owner[name] = s
		if full:
			return register(self.adm[s], name, self.csv)
		return self.adm[s].call("dataset.register", name=name,
		    schema=schema_named(name), policy=POLICY,
		    size=len(self.csv))["upload"]

	def dataset(self, s, approve=True, grant=False):
		name = fresh("m%s_" % s.lower())
		self.adm[s].call("dataset.commit",
		    upload=register(self.adm[s], name, self.csv))
		self.owner[name] = s
		if approve:
			self.x.op.call("dataset.approve", name=name)
		if grant:
			self.adm[s].call("grant", dataset=name,
			    buyer=PARTY["buy" + s], epsilon="1", purpose=PURPOSE)
		return name

	# Leak checks of successful list calls: what the caller must not see.
	def leak_datasets(self, role, res):
		rows = res.get("datasets", [])
		side = SIDE.get(role)
		bad = []
		for d in rows:
			o = self.owner.get(d.get("name"))
			if KIND[role] == "provider" and o is not None and o != side:
				bad.append(d)
			if KIND[role] == "provider" and d.get("provider") != \
			    PARTY[role]:
				bad.append(d)
			if KIND[role] == "buyer" and (d.get("name") !=
			    self.ds[side]):
				bad.append(d)
		if KIND[role] == "buyer" and self.ds[side] not in [d.get("name")
		    for d in rows]:
			bad.append("own granted data set missing")
		if KIND[role] == "operator" and not {self.ds["A"],
		    self.ds["B"], self.pending["A"]} <= {d.get("name") for d in
		    rows}:
			bad.append("operator does not see every data set")
		return bad

	def leak_budget(self, role, res):
		side = SIDE.get(role)
		bad = []
		for b in res.get("budgets", []):
			o = self.owner.get(b.get("dataset"))
			if KIND[role] == "buyer" and (b.get("buyer") != PARTY[role]
			    or o != side):
				bad.append(b)
			if KIND[role] == "provider" and o != side:
				bad.append(b)
		return bad

	def leak_usage(self, role, res):
		side = SIDE.get(role)
		return [u for u in res.get("usage", []) if KIND[role] ==
		    "provider" and self.owner.get(u.get("dataset")) != side]


def spec_table(m):
	"""One row per method (and target kind), straight from
	docs/protocol.md: the roles that may call it (others get forbidden),
	the kinds that see only their own side's objects (the other side's
	are not_found), kinds to whom the target is never visible
	(not_found), whether it takes a target side, its params for a target
	side, and an optional check of what a successful answer shows."""
	def row(label, allowed, params, own=(), hidden=(), targeted=True,
	    leak=None):
		return {"label": label, "allowed": set(allowed), "own": set(own),
		    "hidden": set(hidden), "targeted": targeted,
		    "params": params, "leak": leak}
	up = lambda s: {"upload": m.upload(s), "offset": 0,
	    "data": m.csv[:4096]}
	ALL = ("operator", "provider", "buyer", "auditor")
	return [
	    row("party.add", ["operator"], lambda s: {"name": fresh("p"),
		"role": "buyer"}, targeted=False),
	    row("party.list", ["operator", "auditor"], lambda s: {},
		targeted=False),
	    row("dataset.register", ["provider"], lambda s: (lambda n: {
		"name": n, "schema": schema_named(n), "policy": POLICY,
		"size": len(m.csv)})(fresh("r")), targeted=False),
	    row("dataset.upload", ["provider"], up, own=["provider"]),
	    row("dataset.commit", ["provider"], lambda s: {
		"upload": m.upload(s, full=True)}, own=["provider"]),
	    row("dataset.approve", ["operator"], lambda s: {
		"name": m.dataset(s, approve=False)}),
	    row("dataset.revoke", ["operator", "provider"], lambda s: {
		"name": m.dataset(s)}, own=["provider"]),
	    row("dataset.list", ["operator", "provider", "buyer"],
		lambda s: {}, targeted=False, leak=m.leak_datasets),
	    row("dataset.show", ["operator", "provider", "buyer"],
		lambda s: {"name": m.ds[s]}, own=["provider", "buyer"]),
	    row("dataset.show (pending data set)", ["operator", "provider",
		"buyer"], lambda s: {"name": m.pending[s]}, own=["provider"],
		hidden=["buyer"]),
	    row("grant", ["provider"], lambda s: {"dataset": m.ds[s],
		"buyer": PARTY["buy" + s], "epsilon": "1", "purpose": PURPOSE},
		own=["provider"]),
	    row("job.submit", ["buyer"], lambda s: {"dataset": m.ds[s],
		"source": COUNT_JOB, "epsilon": "0.01"}, own=["buyer"]),
	    row("job.submit (pending data set)", ["buyer"], lambda s: {
		"dataset": m.pending[s], "source": COUNT_JOB,
		"epsilon": "0.01"}, hidden=["buyer"]),
	    row("job.status", ["buyer", "operator"], lambda s: {
		"job": m.job[s]}, own=["buyer"]),
	    row("job.wait", ["buyer", "operator"], lambda s: {
		"job": m.job[s], "timeout_ms": 1000}, own=["buyer"]),
	    row("job.result", ["buyer"], lambda s: {"job": m.job[s]},
		own=["buyer"]),
	    row("budget", ALL, lambda s: {"dataset": m.ds[s]},
		own=["buyer", "provider"], leak=m.leak_budget),
	    row("budget (every data set)", ALL, lambda s: {},
		targeted=False, leak=m.leak_budget),
	    row("usage", ["operator", "auditor", "provider"], lambda s: {},
		targeted=False, leak=m.leak_usage),
	    row("audit.tail", ["operator", "auditor"], lambda s: {"n": 5},
		targeted=False),
	    row("audit.verify", ["operator", "auditor"], lambda s: {},
		targeted=False),
	]


def expected_code(spec, role, side):
	"""None for success, else the error code the doc prescribes."""
	if role == "unauth":
		return UNAUTHENTICATED
	k = KIND[role]
	if k not in spec["allowed"]:
		return FORBIDDEN
	if k in spec["hidden"]:
		return NOT_FOUND
	if side is not None and k in spec["own"] and SIDE[role] != side:
		return NOT_FOUND
	return None


def test_matrix():
	with Exchange("authz") as x:
		m = Matrix(x)
		cells = 0
		for spec in spec_table(m):
			method = spec["label"].split(" ")[0]
			leak = spec["leak"]
			c = Checks("authz: %s" % spec["label"])
			for side in ("A", "B") if spec["targeted"] else (None,):
				for role in ROLES:
					want = expected_code(spec, role, side)
					p = spec["params"](side or "A")
					cells += 1
					if role == "unauth" and len(packed([0, 1, method,
					    p])) > 4096:
						want = TOO_LARGE	# the cap before auth
					cl = m.caller(role)
					try:
						code, res = cl.try_call(method, p)
					except ProtocolError as e:
						c.expect(False, "%s on %s's object: %s" % (
						    role, side, e))
						continue
					where = "%s%s" % (role, " on %s's" % side if side
					    else "")
					if want is None:
						if c.expect(code is None, "%s: expected "
						    "success, got %s: %s" % (where,
						    err_name(code), res)) and leak:
							bad = leak(role, res)
							c.expect(not bad, "%s: sees %r" % (where,
							    bad))
					elif code is None:
						c.expect(False, "UNAUTHORIZED SUCCESS: %s, "
						    "params %r: expected %s, got %r" % (where,
						    {k: (v if not isinstance(v, bytes) else
						    "<%d bytes>" % len(v)) for k, v in
						    p.items()}, err_name(want), res))
					else:
						c.expect(code == want, "%s: expected %s, "
						    "got %s (%s)" % (where, err_name(want),
						    err_name(code), res))
					if role == "unauth":
						cl.close()
			c.done()

		print("    authz: %d cells (role x method x target)" % cells)
		c = Checks("authz: bad tokens, three failures close")
		cl = x.connect(None)
		for i in range(3):
			try:
				code, res = cl.try_call("auth", token="A" * 43)
			except Closed:
				c.expect(False, "closed after %d bad tokens" % i)
				break
			c.expect(code == UNAUTHENTICATED, "bad token %d: %s" % (i,
			    err_name(code) if code else "success %r" % res))
		else:
			c.expect(cl.is_closed(5 * SCALE), "still open after three "
			    "bad tokens")
		cl = x.connect(None)
		code, res = cl.try_call("auth", token=123)
		c.expect(code in (BAD_REQUEST, UNAUTHENTICATED), "token 123: %s"
		    % (err_name(code) if code else "success"))
		code, res = cl.try_call("auth", token=x.op_token + "x")
		c.expect(code == UNAUTHENTICATED, "token plus one byte: %s" % (
		    err_name(code) if code else "success"))
		c.done()

		c = Checks("authz: chain intact after the matrix")
		ver = x.op.call("audit.verify")
		c.expect(ver.get("ok") is True, "audit.verify %r" % ver)
		c.done()


# ---------------------------------------------------------------------------
# 3. Malformed and oversized input

def raw_session(path, payload, wait=None, before=None):
	"""Sends payload on a new connection (after before(client) if given)
	and reads until the daemon closes or wait seconds pass. Returns
	(responses, closed, send_error)."""
	c = Client(path)
	if before:
		before(c)
	send_error = None
	try:
		c.send_raw(payload)
	except (BrokenPipeError, ConnectionResetError) as e:
		send_error = e
	msgs = []
	closed = False
	c.sock.settimeout(wait or 5 * SCALE)
	try:
		while True:
			m = c.read_message()
			if m is None:
				closed = True
				break
			msgs.append(m)
	except (ConnectionResetError, BrokenPipeError):
		closed = True
	except socket.timeout:
		pass
	except (ValueError, msgpack.ExtraData, msgpack.FormatError,
	    msgpack.StackError) as e:
		msgs.append(("undecodable", repr(e)))
	c.close()
	return msgs, closed, send_error


def healthy(x, c):
	"""A new connection authenticates and completes a call."""
	try:
		cl = Client(x.sock, x.op_token, timeout=10 * SCALE)
		cl.call("party.list")
		cl.close()
		return c.expect(x.daemon.alive(), "veild died")
	except Exception as e:
		return c.expect(False, "a healthy client failed afterwards: %r; "
		    "veild %s" % (e, "alive" if x.daemon.alive() else "DEAD"))


def one_error(c, what, msgs, closed, codes, close=True):
	resp = [m for m in msgs if isinstance(m, list)]
	if not c.expect(len(msgs) == 1 and len(resp) == 1, "%s: expected one "
	    "error response, got %r" % (what, msgs)):
		return
	m = resp[0]
	try:
		check_response(m)
	except ProtocolError as e:
		c.expect(False, "%s: %s" % (what, e))
		return
	code = m[2]["code"] if isinstance(m[2], dict) else None
	c.expect(m[2] is not None and code in codes, "%s: expected %s, got %r"
	    % (what, " or ".join(err_name(k) for k in codes), m))
	if close:
		c.expect(closed, "%s: connection left open" % what)


def auth_bytes(token_obj_bytes):
	"""[0, 1, "auth", {"token": <raw msgpack>}]"""
	return b"\x94\x00\x01\xa4auth\x81\xa5token" + token_obj_bytes


def test_malformed():
	with Exchange("malformed") as x:
		path = x.sock
		tok = x.op_token
		x.add_party("mal-prov", "provider")
		x.add_party(BUYER_A, "buyer")
		prov = x.connect("mal-prov")
		buyer = x.connect(BUYER_A)
		csv = DATA.clinic(2000)
		publish(x, prov, "mal", csv, [(BUYER_A, "3")])
		authed = lambda cl: cl.call("auth", token=tok)
		big_str = lambda n: b"\xdb" + n.to_bytes(4, "big")

		cases = [
		    # name, payload, before, codes, must close
		    ("garbage bytes", b"\xc1" * 64, None, {BAD_REQUEST}, True),
		    ("random text", bytes(random.Random(7).choice(
			b"abcdefghijklmnopqrstuvwxyz ") for i in range(300)), None,
			{BAD_REQUEST, TOO_LARGE}, True),
		    ("HTTP request", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", None,
			{BAD_REQUEST, TOO_LARGE}, True),
		    ("a map, not a request", packed({"hello": "veild"}), None,
			{BAD_REQUEST}, True),
		    ("a string, not a request", packed("auth"), None,
			{BAD_REQUEST}, True),
		    ("a response sent to veild", packed([1, 1, None, {}]), None,
			{BAD_REQUEST}, True),
		    ("a notification", packed([2, "auth", [{"token": tok}]]),
			None, {BAD_REQUEST}, True),
		    ("three elements", packed([0, 1, "auth"]), None,
			{BAD_REQUEST}, True),
		    ("five elements", packed([0, 1, "auth", {"token": tok}, 1]),
			None, {BAD_REQUEST}, True),
		    ("id a string", packed([0, "1", "auth", {"token": tok}]),
			None, {BAD_REQUEST}, True),
		    ("negative id", packed([0, -1, "auth", {"token": tok}]),
			None, {BAD_REQUEST}, True),
		    ("id over uint32", packed([0, 1 << 40, "auth",
			{"token": tok}]), None, {BAD_REQUEST}, True),
		    ("method an int", packed([0, 1, 7, {"token": tok}]), None,
			{BAD_REQUEST}, True),
		    ("5 KiB request before auth", packed([0, 1, "auth",
			{"token": "x" * 5120}]), None, {TOO_LARGE}, True),
		    ("4 GiB string declared before auth",
			auth_bytes(big_str(0xffffffff) + b"abc"), None,
			{TOO_LARGE, BAD_REQUEST}, True),
		    ("nesting bomb before auth (1,000 deep)",
			auth_bytes(b"\x91" * 1000 + b"\xc0"), None,
			{BAD_REQUEST, TOO_LARGE}, True),
		    ("2 MiB request after auth", packed([0, 2, "party.add",
			{"name": "n" * (2 << 20), "role": "buyer"}]), authed,
			{TOO_LARGE}, True),
		    ("nesting bomb after auth (200,000 deep)",
			b"\x94\x00\x02\xaaparty.list\x81\xa1x" + b"\x91" * 200000 +
			b"\xc0", authed, {BAD_REQUEST, TOO_LARGE}, True),
		    ("map of 2^32-1 entries declared after auth",
			b"\x94\x00\x02\xaaparty.list\xdf\xff\xff\xff\xff\xa1a",
			authed, {BAD_REQUEST, TOO_LARGE}, True),
		    ("array of 2^32-1 declared after auth",
			b"\x94\x00\x02\xaaparty.list\x81\xa1x\xdd\xff\xff\xff\xff",
			authed, {BAD_REQUEST, TOO_LARGE}, True),
		]
		for name, payload, before, codes, close in cases:
			c = Checks("malformed: %s" % name)
			try:
				msgs, closed, serr = raw_session(path, payload,
				    before=before)
				one_error(c, name, msgs, closed, codes, close)
				if msgs and isinstance(msgs[0], list) and \
				    before is None and len(payload) > 0:
					c.expect(msgs[0][1] in (0, 1), "id %r" %
					    (msgs[0][1],))
			except Exception as e:
				c.expect(False, "%r" % e)
			healthy(x, c)
			c.done()

		c = Checks("malformed: truncated frame, then close")
		for cut in (1, 5, 20):
			cl = Client(path)
			cl.send_raw(packed([0, 1, "auth", {"token": tok}])[:cut])
			cl.close()
		cl = Client(path, tok)
		req = packed([0, 9, "party.list", {}])
		cl.send_raw(req[:len(req) // 2])
		cl.close()
		healthy(x, c)
		c.done()

		# Wrong types after auth: bad_request, and the connection goes on.
		c = Checks("malformed: mistyped parameters get bad_request")
		op = Client(path, tok)
		j1 = buyer.call("job.submit", dataset="mal",
		    source=COUNT_JOB, epsilon="0.01")["job"]
		calls = [
		    (op, "party.add", {"name": 5, "role": "buyer"}),
		    (op, "party.add", {"name": "x1"}),
		    (op, "party.add", {"name": "bad name!", "role": "buyer"}),
		    (op, "party.add", {"name": "x2", "role": "operator"}),
		    (op, "party.add", {"name": "x3", "role": "king"}),
		    (op, "job.status", {"job": "1"}),
		    (op, "job.status", {}),
		    (op, "job.wait", {"job": j1, "timeout_ms": "x"}),
		    (op, "dataset.show", {"name": ["mal"]}),
		    (op, "dataset.approve", {"name": None}),
		    (op, "audit.tail", {"n": "5"}),
		    (prov, "dataset.register", {"name": "t", "schema": 5,
			"policy": POLICY, "size": 10}),
		    (prov, "dataset.register", {"name": "t3",
			"schema": "return {", "policy": POLICY, "size": 10}),
		    (prov, "dataset.register", {"name": "t4",
			"schema": schema_named("t4"), "policy": "return 5",
			"size": 10}),
		    (prov, "dataset.upload", {"upload": "1", "offset": 0,
			"data": b"x"}),
		    (prov, "grant", {"dataset": "mal", "buyer": BUYER_A,
			"epsilon": "lots"}),
		    (buyer, "job.submit", {"dataset": "mal", "source": b"bin"}),
		    (buyer, "job.submit", {"dataset": "mal",
			"source": COUNT_JOB, "epsilon": "-1"}),
		    (buyer, "budget", {"dataset": 7}),
		]
		# A value out of its range: bad_request or too_large.
		calls += [
		    (prov, "dataset.register", {"name": "t2",
			"schema": schema_named("t2"), "policy": POLICY,
			"size": -5}, {BAD_REQUEST, TOO_LARGE}),
		    (op, "party.add", {"name": "x" * 65, "role": "buyer"},
			{BAD_REQUEST, TOO_LARGE}),
		    (prov, "dataset.register", {"name": "y" * 65,
			"schema": schema_named("t5"), "policy": POLICY,
			"size": 10}, {BAD_REQUEST, TOO_LARGE}),
		]
		for call in calls:
			cl, method, params = call[:3]
			want = call[3] if len(call) > 3 else {BAD_REQUEST}
			short = {k: (v if not isinstance(v, (str, bytes)) or
			    len(v) < 40 else "<%d bytes>" % len(v)) for k, v in
			    params.items()}
			try:
				code, res = cl.try_call(method, params)
				c.expect(code in want, "%s %r: expected %s, got %s "
				    "%r" % (method, short, " or ".join(err_name(w) for
				    w in sorted(want)), err_name(code) if code else
				    "success", res))
			except ProtocolError as e:
				c.expect(False, "%s %r: %s" % (method, params, e))
				continue
		for cl, who in ((op, "operator"), (prov, "provider"),
		    (buyer, "buyer")):
			try:
				cl.call("budget")
			except Exception as e:
				c.expect(False, "%s's connection unusable after a bad "
				    "request: %r" % (who, e))
		code, res = op.try_call("no.such.method", {})
		c.expect(code is not None, "an unknown method succeeded: %r" %
		    (res,))
		err, res = op.call_raw("party.list", [{}])
		c.expect(err is None and "parties" in res, "params as [map]: "
		    "%r %r" % (err, res))
		healthy(x, c)
		c.done()

		# protocol.md: "Epsilons travel as exact decimal strings
		# ("0.25"), never floats."
		c = Checks("malformed: an epsilon sent as a float is refused")
		for cl, method, params in (
		    (prov, "grant", {"dataset": "mal", "buyer": BUYER_A,
			"epsilon": 1.5, "purpose": PURPOSE}),
		    (buyer, "job.submit", {"dataset": "mal",
			"source": COUNT_JOB, "epsilon": 0.1})):
			code, res = cl.try_call(method, params)
			c.expect(code == BAD_REQUEST, "%s epsilon %r: expected "
			    "bad_request, got %s %r" % (method, params["epsilon"],
			    err_name(code) if code else "success", res))
		prov.call("grant", dataset="mal", buyer=BUYER_A, epsilon="3",
		    purpose=PURPOSE)
		c.done()

		c = Checks("malformed: upload and job source over their caps")
		up = prov.call("dataset.register", name="capped",
		    schema=schema_named("capped"), policy=POLICY,
		    size=len(csv))["upload"]
		code, res = prov.try_call("dataset.upload", upload=up, offset=0,
		    data=b"x" * (600 * 1024))
		c.expect(code == TOO_LARGE, "600 KiB chunk: %s" % (err_name(code)
		    if code else "success"))
		code, res = prov.try_call("dataset.upload", upload=up, offset=5,
		    data=csv[:100])
		c.expect(code == BAD_REQUEST or code == REFUSED, "offset past "
		    "what was received: %s" % (err_name(code) if code else
		    "success"))
		code, res = prov.try_call("dataset.upload", upload=up, offset=0,
		    data=csv + b"x" * 8)
		c.expect(code is not None, "upload past the declared size "
		    "succeeded")
		code, res = prov.try_call("dataset.register", name="huge",
		    schema=schema_named("huge"), policy=POLICY, size=1 << 50)
		c.expect(code in (TOO_LARGE, BAD_REQUEST), "size 2^50: %s" % (
		    err_name(code) if code else "success"))
		b2 = Client(path, x.tokens[BUYER_A])
		code, res = b2.try_call("job.submit", dataset="mal",
		    source="--" + "x" * (600 * 1024))
		c.expect(code in (TOO_LARGE, BAD_REQUEST), "600 KiB source: %s"
		    % (err_name(code) if code else "success"))
		b2.close()
		healthy(x, c)
		c.done()

		c = Checks("malformed: pipelined requests are all answered")
		cl = Client(path, tok)
		ids = [cl.send("party.list", {}) for i in range(200)]
		for i in ids:
			err, res = cl.reply(i)
			c.expect(err is None, "pipelined party.list %d: %r" % (i, err))
		bc = Client(path, x.tokens[BUYER_A])
		j = bc.call("job.submit", dataset="mal", source=SLOW_JOB,
		    epsilon="0.01")["job"]
		ids = [bc.send("job.wait", {"job": j, "timeout_ms": 20000}) for i
		    in range(70)]
		waited = 0
		for i in ids:
			err, res = bc.reply(i)
			if err is None:
				waited += 1
				c.expect(res.get("state") == "done", "job.wait %r" % res)
			else:
				c.expect(error_code(err)[0] == TOO_LARGE, "job.wait "
				    "beyond 64 waiting: %r" % err)
		c.expect(waited >= 64, "only %d of 70 waits answered" % waited)
		c.expect("budgets" in bc.call("budget"), "connection unusable")
		cl.close()
		bc.close()
		healthy(x, c)
		c.done()

		# A slow client, and abandoned ones, block nobody.
		c = Checks("malformed: slow and abandoned clients block nobody")
		for i in range(150):
			x.add_party(fresh("filler-"), "auditor")
		idle = Client(path)			# never says anything
		t_idle = time.monotonic()
		half = Client(path)
		half.send_raw(packed([0, 1, "auth", {"token": tok}])[:20])
		flood = Client(path, tok)		# never reads its answers
		for i in range(64):
			flood.send("audit.tail", {"n": 1000})
		gone = Client(path, x.tokens[BUYER_A])
		gone.send("job.submit", {"dataset": "mal",
		    "source": COUNT_JOB, "epsilon": "0.01"})
		time.sleep(0.2)
		gone.close()
		slow_res = {}

		def slow():
			try:
				cl = Client(path, timeout=30 * SCALE)
				data = packed([0, 77, "auth", {"token": tok}]) + \
				    packed([0, 78, "party.list", {}])
				t0 = time.monotonic()
				for b in data:
					cl.send_raw(bytes([b]))
					time.sleep(0.05)
				err, r = cl.reply(77)
				err2, r2 = cl.reply(78)
				slow_res["ok"] = err is None and err2 is None and \
				    "parties" in r2
				slow_res["t"] = time.monotonic() - t0
				cl.close()
			except Exception as e:
				slow_res["error"] = repr(e)

		th = threading.Thread(target=slow)
		th.start()
		worst = 0.0
		n = 0
		t_end = time.monotonic() + 3
		cl = Client(path, x.tokens[BUYER_A])
		while time.monotonic() < t_end or th.is_alive():
			t0 = time.monotonic()
			try:
				cl.call("dataset.list")
			except Exception as e:
				c.expect(False, "a healthy call failed: %r" % e)
				break
			worst = max(worst, time.monotonic() - t0)
			n += 1
			time.sleep(0.02)
			if time.monotonic() > t_end + 60 * SCALE:
				break
		j = cl.call("job.submit", dataset="mal", source=COUNT_JOB,
		    epsilon="0.01")["job"]
		t0 = time.monotonic()
		st = wait_end(cl, j, 30 * SCALE)
		c.expect(st.get("state") == "done", "a job while others hang: "
		    "%r" % st)
		c.expect(time.monotonic() - t0 < 10 * SCALE, "the job took %.1f s"
		    % (time.monotonic() - t0))
		cl.call("job.result", job=j)
		th.join(60 * SCALE)
		c.expect(worst < 1.0 * SCALE, "slowest of %d calls %.3f s" % (n,
		    worst))
		c.expect(slow_res.get("ok") is True, "the slow client: %r" %
		    slow_res)
		# The job of the client that went away still runs.
		jobs = x.op.call("usage")["usage"]
		mine = [u for u in jobs if u.get("dataset") == "mal"]
		c.expect(mine and mine[0].get("jobs", 0) >= 2, "usage after the "
		    "abandoned submit: %r" % mine)
		db = x.db()
		states = [r[0] for r in db.execute("SELECT state FROM job")]
		db.close()
		deadline = time.monotonic() + 30 * SCALE
		while time.monotonic() < deadline and any(s in ("queued",
		    "running") for s in states):
			time.sleep(0.2)
			db = x.db()
			states = [r[0] for r in db.execute("SELECT state FROM job")]
			db.close()
		c.expect(states and all(s == "done" for s in states),
		    "job states: %r" % states)
		# The pre-auth idle limit: 10 s, then closed.
		left = 10.5 - (time.monotonic() - t_idle)
		c.expect(idle.is_closed(max(left, 0) + 10 * SCALE),
		    "an idle unauthenticated connection is still open")
		half.close()
		flood.close()
		healthy(x, c)
		c.done()


# ---------------------------------------------------------------------------
# 4. kill -9 at random points

def disk_invariants(home, state, lock):
	"""Problems found in the catalog and DIR/datasets (read-only)."""
	p = []
	db = sqlite3.connect("file:%s?mode=ro" % os.path.join(home, "veil.db"),
	    uri=True, timeout=30)
	try:
		files = os.listdir(os.path.join(home, "datasets"))
		for did, name, st, total in db.execute("SELECT id, name, state, "
		    "eps_total FROM dataset"):
			if st == "revoked":
				continue
			if not any(dataset_file_matches(did, name, f) for f in
			    files):
				p.append("data set %s (%s, id %d) has no table file in "
				    "datasets/ (%s)" % (name, st, did,
				    " ".join(sorted(files)) or "empty"))
		for (job,) in db.execute("SELECT job FROM result WHERE job NOT "
		    "IN (SELECT job FROM charge)"):
			p.append("result of job %d has no charge" % job)
		for (job, st) in db.execute("SELECT r.job, j.state FROM result r "
		    "JOIN job j ON j.id = r.job WHERE j.state != 'done'"):
			p.append("result of job %d whose state is %s" % (job, st))
		for (job,) in db.execute("SELECT id FROM job WHERE state = 'done' "
		    "AND (id NOT IN (SELECT job FROM result) OR id NOT IN "
		    "(SELECT job FROM charge))"):
			p.append("done job %d lacks its result or charge" % job)
		for (ds, name, spent, total) in db.execute("SELECT c.dataset, "
		    "d.name, SUM(c.eps), d.eps_total FROM charge c JOIN dataset d "
		    "ON d.id = c.dataset GROUP BY c.dataset"):
			if spent > total:
				p.append("data set %s: charges %d > total %d nano-eps" %
				    (name, spent, total))
		for (ds, buyer, spent, granted) in db.execute("SELECT c.dataset, "
		    "c.buyer, SUM(c.eps), g.eps FROM charge c LEFT JOIN grant_ g "
		    "ON g.dataset = c.dataset AND g.buyer = c.buyer "
		    "GROUP BY c.dataset, c.buyer"):
			if granted is None or spent > granted:
				p.append("data set %d buyer %d: charges %d > grant %s"
				    % (ds, buyer, spent, granted))
		for (ds, buyer, kept, summed) in db.execute("SELECT "
		    "coalesce(s.dataset, c.dataset), coalesce(s.buyer, c.buyer), "
		    "s.eps, c.eps FROM spend s FULL JOIN (SELECT dataset, buyer, "
		    "SUM(eps) AS eps FROM charge GROUP BY dataset, buyer) c ON "
		    "c.dataset = s.dataset AND c.buyer = s.buyer"):
			if kept != summed:
				p.append("data set %d buyer %d: spend %s but charges "
				    "sum to %s" % (ds, buyer, kept, summed))
		jobs = {r[0]: r[1] for r in db.execute("SELECT id, state FROM job")}
		names = {r[0]: r[1] for r in db.execute("SELECT name, state FROM "
		    "dataset")}
		grants = {(r[0], r[1]) for r in db.execute("SELECT d.name, p.name "
		    "FROM grant_ g JOIN dataset d ON d.id = g.dataset JOIN party p "
		    "ON p.id = g.buyer")}
		with lock:
			for j in state["acked"]:
				if j not in jobs:
					p.append("acknowledged job %r is not in the catalog" %
					    (j,))
			for j in state["released"]:
				if jobs.get(j) != "done":
					p.append("released job %r is %s in the catalog" % (
					    j, jobs.get(j)))
			for n in state["committed"]:
				if n not in names:
					p.append("acknowledged commit of %s: no dataset row" %
					    n)
			for n in state["approved"]:
				if names.get(n) != "approved":
					p.append("acknowledged approval of %s: state %s" % (
					    n, names.get(n)))
			for g in state["granted"]:
				if g not in grants:
					p.append("acknowledged grant %r: no grant_ row" %
					    (g,))
	finally:
		db.close()
	return p


def dataset_file_matches(did, name, fname):
	"""Whether fname is the table file of data set did called name
	(named after either, with any extension)."""
	return fname.split(".")[0] in (str(did), name)


KILL_POLICY = dp_policy("0.05", "0.5")
ROUNDS = 20


def kill_round(x, rnd, rng, state, lock, csv):
	stop = threading.Event()
	errors = []

	def registrar():
		i = 0
		try:
			prov = Client(x.sock, x.tokens["kill-prov"], 10 * SCALE)
			op = Client(x.sock, x.op_token, 10 * SCALE)
			while not stop.is_set():
				name = "k%d_%d" % (rnd, i)
				i += 1
				up = register(prov, name, csv, KILL_POLICY, 64 * 1024)
				prov.call("dataset.commit", upload=up)
				with lock:
					state["committed"].append(name)
				op.call("dataset.approve", name=name)
				with lock:
					state["approved"].append(name)
				for b in (BUYER_A, BUYER_B):
					prov.call("grant", dataset=name, buyer=b,
					    epsilon="0.3")
					with lock:
						state["granted"].append((name, b))
		except (OSError, ProtocolError):
			pass
		except RpcError as e:
			if e.code not in (SHUTTING_DOWN,):
				errors.append("registrar: %s" % e)

	def submitter(buyer, seed):
		r = random.Random(seed)
		try:
			cl = Client(x.sock, x.tokens[buyer], 10 * SCALE)
			while not stop.is_set():
				with lock:
					names = [n for (n, b) in state["granted"] if b ==
					    buyer]
				if not names:
					time.sleep(0.01)
					continue
				name = r.choice(names[-3:])
				code, res = cl.try_call("job.submit", dataset=name,
				    source=COUNT_JOB, epsilon="0.05")
				if code is not None:
					if code not in (REFUSED, NOT_FOUND):
						errors.append("job.submit: %s %s" % (
						    err_name(code), res))
					time.sleep(0.005)
					continue
				with lock:
					state["acked"][res["job"]] = buyer
				st = cl.call("job.wait", job=res["job"],
				    timeout_ms=2000)
				if st.get("state") == "done":
					rr = cl.call("job.result", job=res["job"])
					with lock:
						state["released"].setdefault(res["job"],
						    packed(rr))
		except (OSError, ProtocolError):
			pass
		except RpcError as e:
			if e.code not in (SHUTTING_DOWN,):
				errors.append("%s: %s" % (buyer, e))

	threads = [threading.Thread(target=registrar)] + [
	    threading.Thread(target=submitter, args=(b, rng.random())) for b in
	    (BUYER_A, BUYER_B)]
	for t in threads:
		t.start()
	time.sleep(rng.uniform(0, 0.3))
	x.daemon.kill9()
	stop.set()
	for t in threads:
		t.join(30 * SCALE)
	return errors


def test_kill9():
	rng = random.Random(20241121)
	csv = DATA.clinic(2000, seed=5)
	with Exchange("kill9") as x:
		x.add_party("kill-prov", "provider")
		x.add_party(BUYER_A, "buyer")
		x.add_party(BUYER_B, "buyer")
		lock = threading.Lock()
		state = {"acked": {}, "released": {}, "committed": [],
		    "approved": [], "granted": []}
		prov = x.connect("kill-prov")
		publish(x, prov, "k_base", csv, [(BUYER_A, "0.3"), (BUYER_B,
		    "0.3")], KILL_POLICY)
		state["committed"].append("k_base")
		state["approved"].append("k_base")
		state["granted"] += [("k_base", BUYER_A), ("k_base", BUYER_B)]
		x.daemon.stop()
		x._op = None
		x.clients = []
		for rnd in range(ROUNDS):
			c = Checks("kill9: round %d: restart, invariants on disk" % rnd)
			try:
				x.daemon.start()
			except SetupError as e:
				c.expect(False, "restart after kill -9: %s" % e)
				c.done()
				return
			errs = kill_round(x, rnd, rng, state, lock, csv)
			for e in errs:
				c.expect(False, e)
			for prob in disk_invariants(x.home, state, lock):
				c.expect(False, prob)
			c.done()

		c = Checks("kill9: after the last restart, no job lost, released "
		    "results unchanged")
		x.daemon.start()
		cl = {b: x.connect(b) for b in (BUYER_A, BUYER_B)}
		with lock:
			acked = dict(state["acked"])
			released = dict(state["released"])
		ended = 0
		for j, b in sorted(acked.items()):
			try:
				st = wait_end(cl[b], j, 60 * SCALE)
			except RpcError as e:
				c.expect(False, "job %r: %s" % (j, e))
				continue
			if c.expect(st.get("state") in ("done", "failed", "refused"),
			    "job %r never ends: %r" % (j, st)):
				ended += 1
			if j in released:
				try:
					r = cl[b].call("job.result", job=j)
					c.expect(packed(r) == released[j], "job %r: result "
					    "changed after restart:\n%r\n%r" % (j,
					    msgpack.unpackb(released[j], raw=False), r))
				except RpcError as e:
					c.expect(False, "job %r released before: %s" % (j, e))
			elif st.get("state") == "done":
				code, res = cl[b].try_call("job.result", job=j)
				c.expect(code is None, "done job %r: job.result %s" % (j,
				    err_name(code) if code else ""))
		for prob in disk_invariants(x.home, state, lock):
			c.expect(False, prob)
		for b in (BUYER_A, BUYER_B):
			for row in cl[b].call("budget")["budgets"]:
				c.expect(dec(row["spent"]) <= dec(row["granted"]) and
				    dec(row["left"]) >= 0, "budget %r" % row)
		for row in x.op.call("budget")["budgets"]:
			c.expect(dec(row["spent"]) <= dec(row["granted"]),
			    "budget %r" % row)
		ver = x.op.call("audit.verify")
		c.expect(ver.get("ok") is True, "audit.verify %r" % ver)
		c.expect(len(acked) >= ROUNDS, "only %d jobs were acknowledged in "
		    "%d rounds" % (len(acked), ROUNDS))
		c.done()
		print("    kill9: %d jobs acknowledged, %d ended, %d released "
		    "before a kill, %d data sets committed" % (len(acked), ended,
		    len(released), len(state["committed"])))


# ---------------------------------------------------------------------------
# 5. Many clients

def test_concurrent(nclients=32, njobs=100):
	csv = DATA.clinic(2000, seed=2)
	with Exchange("concurrent") as x:
		x.add_party("bulk-prov", "provider")
		prov = x.connect("bulk-prov")
		buyers = ["bulk-%02d" % i for i in range(nclients)]
		for b in buyers:
			x.add_party(b, "buyer")
		publish(x, prov, "bulk", csv, [(b, "0.06") for b in buyers],
		    dp_policy("0.0005", "3"))
		problems = []
		done = [0]
		lock = threading.Lock()

		def client(b):
			try:
				cl = Client(x.sock, x.tokens[b], 300 * SCALE)
				ids = [cl.call("job.submit", dataset="bulk",
				    source=COUNT_JOB)["job"] for i in range(njobs)]
				if len(set(ids)) != njobs:
					problems.append("%s: duplicate job ids" % b)
				for j in ids:
					st = wait_end(cl, j, 300 * SCALE)
					if st.get("state") != "done":
						problems.append("%s: job %r: %r" % (b, j, st))
						continue
					r = cl.call("job.result", job=j)
					if "n" not in r.get("results", {}):
						problems.append("%s: job %r result %r" % (b, j,
						    r))
						continue
					with lock:
						done[0] += 1
				cl.close()
			except Exception as e:
				problems.append("%s: %r" % (b, e))

		t0 = time.monotonic()
		threads = [threading.Thread(target=client, args=(b,)) for b in
		    buyers]
		for t in threads:
			t.start()
		for t in threads:
			t.join()
		took = time.monotonic() - t0
		c = Checks("concurrent: %d clients x %d jobs, none lost" % (
		    nclients, njobs))
		for p in problems:
			c.expect(False, p)
		c.expect(done[0] == nclients * njobs, "%d of %d jobs done and "
		    "fetched" % (done[0], nclients * njobs))
		db = x.db()
		n_done = db.execute("SELECT COUNT(*) FROM job WHERE state = "
		    "'done'").fetchone()[0]
		n_res = db.execute("SELECT COUNT(*) FROM result").fetchone()[0]
		n_ch = db.execute("SELECT COUNT(*) FROM charge").fetchone()[0]
		db.close()
		c.expect(n_done == n_res == n_ch == nclients * njobs,
		    "catalog: %d done, %d results, %d charges" % (n_done, n_res,
		    n_ch))
		c.done()
		print("    concurrent: %d jobs in %.1f s (%.1f jobs/s, %d workers)"
		    % (nclients * njobs, took, nclients * njobs / took, WORKERS))
		if took > 120:
			print("    NOTE: over 2 minutes")


# ---------------------------------------------------------------------------
# 6. Restart recovery

def test_restart():
	csv = DATA.clinic(2000, seed=4)
	with Exchange("restart", workers=1) as x:
		x.add_party("rs-prov", "provider")
		x.add_party(BUYER_A, "buyer")
		prov = x.connect("rs-prov")
		publish(x, prov, "rs", csv, [(BUYER_A, "2")], dp_policy("0.05",
		    "3"))
		buyer = x.connect(BUYER_A)
		c = Checks("restart: SIGTERM with jobs queued, all finish after "
		    "restart, none released twice")
		ids = [buyer.call("job.submit", dataset="rs", source=SLOW_JOB)
		    ["job"] for i in range(30)]
		first = wait_end(buyer, ids[0])
		c.expect(first.get("state") == "done", "first job: %r" % first)
		before = {ids[0]: packed(buyer.call("job.result", job=ids[0]))}
		states = [buyer.call("job.status", job=j)["state"] for j in ids]
		nq = states.count("queued")
		c.expect(nq > 0, "no job left queued at SIGTERM (%r): make the "
		    "jobs slower" % states)
		# A client waiting on a queued job when veild stops.
		waiter = x.connect(BUYER_A)
		wid = waiter.send("job.wait", {"job": ids[-1],
		    "timeout_ms": 600000})
		time.sleep(0.05)
		t0 = time.monotonic()
		rc = x.daemon.stop()
		took = time.monotonic() - t0
		try:
			err, res = waiter.reply(wid, "job.wait")
			c.expect(err is not None and error_code(err)[0] ==
			    SHUTTING_DOWN or err is None and res.get("state") ==
			    "done", "the waiter got %r %r, expected shutting_down"
			    % (err, res))
		except Closed:
			pass		# closed without an answer: acceptable
		except socket.timeout:
			c.expect(False, "the waiter got no answer and no close")
		c.expect(rc == 0, "SIGTERM: exit status %s" % rc)
		db = x.db()
		dstates = dict(db.execute("SELECT id, state FROM job").fetchall())
		db.close()
		c.expect("running" not in dstates.values(), "after a graceful "
		    "stop, jobs still running in the catalog: %r" % dstates)
		c.expect(all(j in dstates for j in ids), "jobs missing from the "
		    "catalog after the stop")
		x.clients = []
		x._op = None
		x.daemon.start()
		buyer = x.connect(BUYER_A)
		results = {}
		for j in ids:
			st = wait_end(buyer, j)
			if c.expect(st.get("state") == "done", "job %r after "
			    "restart: %r" % (j, st)):
				results[j] = packed(buyer.call("job.result", job=j))
		for j, b in before.items():
			c.expect(results.get(j) == b, "job %r: result changed across "
			    "the restart" % j)
		db = x.db()
		n_res = db.execute("SELECT COUNT(*) FROM result").fetchone()[0]
		per_job = db.execute("SELECT job, COUNT(*) FROM charge GROUP BY "
		    "job HAVING COUNT(*) != 1").fetchall()
		n_ch = db.execute("SELECT COUNT(*) FROM charge").fetchone()[0]
		db.close()
		c.expect(n_res == n_ch == len(ids) and not per_job, "%d results, "
		    "%d charges for %d jobs (%r)" % (n_res, n_ch, len(ids),
		    per_job))
		bud = buyer.call("budget", dataset="rs")["budgets"]
		c.expect(len(bud) == 1 and dec(bud[0]["spent"]) ==
		    Decimal("0.05") * len(ids), "budget after %d jobs of 0.05: %r"
		    % (len(ids), bud))
		ver = x.op.call("audit.verify")
		c.expect(ver.get("ok") is True, "audit.verify %r" % ver)
		c.done()
		print("    restart: at SIGTERM %d of %d jobs queued, %d running; "
		    "stop took %.2f s" % (nq, len(ids), states.count("running"),
		    took))


# ---------------------------------------------------------------------------
# 7. Semantics the other tests do not reach (docs/protocol.md, Methods)

def either(code, res):
	return err_name(code) if code else "success %r" % (res,)


def test_semantics():
	csv = DATA.clinic(2000, seed=6)
	with Exchange("semantics") as x:
		x.add_party("sem-prov", "provider")
		x.add_party(BUYER_A, "buyer")
		x.add_party(BUYER_B, "buyer")
		prov = x.connect("sem-prov")
		ba = x.connect(BUYER_A)
		bb = x.connect(BUYER_B)

		c = Checks("semantics: taken names get exists, approve only "
		    "from pending")
		code, res = x.op.try_call("party.add", name=BUYER_A, role="buyer")
		c.expect(code == EXISTS, "party.add of a taken name: %s" %
		    either(code, res))
		publish(x, prov, "sem", csv, [(BUYER_A, "1")])
		code, res = prov.try_call("dataset.register", name="sem",
		    schema=schema_named("sem"), policy=POLICY, size=len(csv))
		c.expect(code == EXISTS, "dataset.register of a taken name: %s"
		    % either(code, res))
		code, res = x.op.try_call("dataset.approve", name="sem")
		c.expect(code == REFUSED, "approving an approved data set: %s" %
		    either(code, res))
		c.done()

		c = Checks("semantics: grant, per-job and budget limits")
		code, res = prov.try_call("grant", dataset="sem", buyer=BUYER_A,
		    epsilon="5", purpose=PURPOSE)
		c.expect(code in (REFUSED, BAD_REQUEST), "grant over the data "
		    "set's total: %s" % either(code, res))
		code, res = ba.try_call("job.submit", dataset="sem",
		    source=COUNT_JOB, epsilon="0.6")
		c.expect(code in (REFUSED, BAD_REQUEST), "job epsilon over the "
		    "policy's per_job 0.5: %s" % either(code, res))
		for i in range(2):
			j = ba.call("job.submit", dataset="sem", source=COUNT_JOB)
			c.expect(wait_end(ba, j["job"]).get("state") == "done",
			    "job %d" % i)
		code, res = ba.try_call("job.submit", dataset="sem",
		    source=COUNT_JOB, epsilon="0.01")
		c.expect(code == REFUSED, "job.submit with the grant spent: %s" %
		    either(code, res))
		code, res = prov.try_call("grant", dataset="sem", buyer=BUYER_A,
		    epsilon="0.5", purpose=PURPOSE)
		c.expect(code in (REFUSED, BAD_REQUEST) or (code is None and
		    dec(res.get("epsilon")) >= 1), "grant below what the buyer "
		    "spent (1): %s" % either(code, res))
		bud = ba.call("budget", dataset="sem")["budgets"]
		c.expect(len(bud) == 1 and dec(bud[0]["spent"]) == 1 and
		    dec(bud[0]["left"]) == 0, "budget: %r" % bud)
		c.done()

		c = Checks("semantics: failed jobs show their class, no text")
		prov.call("grant", dataset="sem", buyer=BUYER_B, epsilon="1",
		    purpose=PURPOSE)
		for src, cls in (("return {", "syntax"),
		    ("error('patient 4711 has diabetes')", "runtime")):
			j = bb.call("job.submit", dataset="sem", source=src,
			    epsilon="0.01")["job"]
			st = wait_end(bb, j)
			c.expect(st.get("state") == "failed" and st.get("error") ==
			    cls, "job %r: expected failed with error %r, got %r" %
			    (src, cls, st))
			c.expect("4711" not in repr(st), "the job's text leaks: %r"
			    % st)
			code, res = bb.try_call("job.result", job=j)
			c.expect(code == JOB_FAILED and "4711" not in str(res),
			    "job.result of a failed job: %s" % either(code, res))
		c.done()

		c = Checks("semantics: a bad CSV or a short upload is refused, "
		    "nothing appears")
		bad = csv.split(b"\n")
		bad[5] = bad[5].replace(b",M,", b",X,").replace(b",F,", b",X,")
		bad = b"\n".join(bad)
		up = register(prov, "semb", bad)
		code, res = prov.try_call("dataset.commit", upload=up)
		c.expect(code == BAD_REQUEST, "commit of a bad CSV: %s" %
		    either(code, res))
		code, res = prov.try_call("dataset.show", name="semb")
		c.expect(code == NOT_FOUND, "after a refused commit: %s" %
		    either(code, res))
		up = prov.call("dataset.register", name="semh",
		    schema=schema_named("semh"), policy=POLICY,
		    size=len(csv))["upload"]
		prov.call("dataset.upload", upload=up, offset=0,
		    data=csv[:len(csv) // 2])
		code, res = prov.try_call("dataset.commit", upload=up)
		c.expect(code in (BAD_REQUEST, REFUSED), "commit of half an "
		    "upload: %s" % either(code, res))
		names = [d["name"] for d in
		    x.op.call("dataset.list")["datasets"]]
		c.expect("semb" not in names and "semh" not in names,
		    "data sets listed: %r" % names)
		c.done()

		c = Checks("semantics: one upload per name, one commit per "
		    "upload")
		up = register(prov, "semc", csv)
		code, res = prov.try_call("dataset.register", name="semc",
		    schema=schema_named("semc"), policy=POLICY, size=len(csv))
		c.expect(code == EXISTS, "a second upload of the same name: %s"
		    % either(code, res))
		# Two commits of one upload, pipelined: one ingests, the other
		# is refused; the data set that appears is whole and usable.
		ids = [prov.send("dataset.commit", {"upload": up}) for i in
		    range(2)]
		answers = [prov.reply(i) for i in ids]
		ok = [r for e, r in answers if e is None]
		refused = [e for e, r in answers if e is not None]
		c.expect(len(ok) == 1 and len(refused) == 1,
		    "two commits: %r" % (answers,))
		c.expect(os.path.exists(os.path.join(x.home, "datasets",
		    "semc.vt")), "the table file of semc is there")
		x.op.call("dataset.approve", name="semc")
		prov.call("grant", dataset="semc", buyer=BUYER_B, epsilon="0.5",
		    purpose=PURPOSE)
		j = bb.call("job.submit", dataset="semc", source=COUNT_JOB,
		    epsilon="0.01")["job"]
		c.expect(wait_end(bb, j).get("state") == "done",
		    "a job on the committed data set runs")
		c.done()

		c = Checks("semantics: revoke fails queued jobs, deletes the "
		    "table")
		publish(x, prov, "semr", csv, [(BUYER_B, "2")])
		ids = [bb.call("job.submit", dataset="semr", source=SLOW_JOB,
		    epsilon="0.01")["job"] for i in range(4 * WORKERS + 4)]
		rv = prov.call("dataset.revoke", name="semr")
		c.expect(rv.get("name") == "semr" and rv.get("state") ==
		    "revoked", "dataset.revoke answered %r" % rv)
		states = [wait_end(bb, j).get("state") for j in ids]
		c.expect(all(s in ("done", "refused") for s in states) and
		    "refused" in states, "job states after the revoke: %r" %
		    states)
		files = os.listdir(os.path.join(x.home, "datasets"))
		c.expect(not [f for f in files if f.split(".")[0] == "semr"],
		    "the table file is still there: %r" % files)
		code, res = bb.try_call("dataset.show", name="semr")
		c.expect(code == NOT_FOUND, "buyer's dataset.show after the "
		    "revoke: %s" % either(code, res))
		code, res = bb.try_call("job.submit", dataset="semr",
		    source=COUNT_JOB, epsilon="0.01")
		c.expect(code in (NOT_FOUND, REFUSED), "job.submit after the "
		    "revoke: %s" % either(code, res))
		sh = x.op.call("dataset.show", name="semr")
		c.expect(sh.get("state") == "revoked", "operator's dataset.show "
		    "%r" % sh)
		c.done()


# ---------------------------------------------------------------------------

TESTS = [
    ("flow", test_flow),
    ("authz", test_matrix),
    ("malformed", test_malformed),
    ("kill9", test_kill9),
    ("concurrent", test_concurrent),
    ("restart", test_restart),
    ("semantics", test_semantics),
]


def main():
	global DATA, KEEP
	ap = argparse.ArgumentParser()
	ap.add_argument("-k", default="", help="run tests whose name contains "
	    "this")
	ap.add_argument("--keep", action="store_true", help="keep every "
	    "temporary home")
	a = ap.parse_args()
	KEEP = a.keep
	t_start = time.monotonic()
	if not os.access(VEILD, os.X_OK):
		R.check("veild_test: %s exists" % VEILD, False, "not built")
	else:
		DATA = Data()
		try:
			for name, fn in TESTS:
				if a.k not in name:
					continue
				t0 = time.monotonic()
				try:
					fn()
				except Exception:
					R.check("%s: ran to the end" % name, False,
					    traceback.format_exc().rstrip())
				print("    (%s: %.1f s)" % (name, time.monotonic() - t0),
				    flush=True)
		finally:
			DATA.cleanup()
	print("veild_test: %.1f s" % (time.monotonic() - t_start))
	if R.failing:
		print("failing: " + "; ".join(R.failing))
	print("%d passed, %d failed" % (R.passed, R.failed))
	sys.exit(1 if R.failed else 0)


if __name__ == "__main__":
	main()
